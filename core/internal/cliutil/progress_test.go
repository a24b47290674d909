package cliutil

import "testing"

func TestProgressLine(t *testing.T) {
	if got := progressLine(500, 0, 2048, 1000); got != "500 rows, 2.0 KiB, 1000 rows/s" {
		t.Errorf("unknown total: %q", got)
	}
	want := "[###############---------------]  50% 500 rows, 2.0 KiB, 1000 rows/s of 1000"
	if got := progressLine(500, 1000, 2048, 1000); got != want {
		t.Errorf("known total:\n got %q\nwant %q", got, want)
	}
	if got := progressLine(1200, 1000, 0, 1); got[:32] != "[##############################]" {
		t.Errorf("overshoot: %q", got)
	}
}

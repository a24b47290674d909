package testkit

import "testing"

// TestFreeAddrsDistinct: the addresses of one call differ (the Lambda
// emulator's two ports once came back equal, and it could not start).
func TestFreeAddrsDistinct(t *testing.T) {
	addrs, err := freeAddrs(64)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		if seen[a] {
			t.Fatalf("%s given twice in %v", a, addrs)
		}
		seen[a] = true
	}
}

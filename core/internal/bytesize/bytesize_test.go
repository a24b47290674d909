package bytesize

import "testing"

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1048576": 1 << 20, "64MiB": 64 << 20} {
		if n, err := Parse(in); err != nil || n != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
	for _, in := range []string{"lots", "-5MiB"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) took it", in)
		}
	}
}

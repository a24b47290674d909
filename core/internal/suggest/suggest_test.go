package suggest

import "testing"

func TestSuggest(t *testing.T) {
	names := []string{"HP_OUTPUT", "HP_FORMAT", "rows", "seed"}
	if got := Nearest("HP_OUTPT", names); got != "HP_OUTPUT" {
		t.Errorf("Nearest = %q", got)
	}
	if got := Likely("rwos", names); got != "rows" {
		t.Errorf("Likely(rwos) = %q", got)
	}
	if got := Likely("completely_else", names); got != "" {
		t.Errorf("Likely of nothing alike = %q", got)
	}
	if d := Distance("kitten", "sitting"); d != 3 {
		t.Errorf("Distance = %d", d)
	}
}

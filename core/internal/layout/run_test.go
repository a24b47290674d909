package layout

import (
	"testing"
	"time"
)

func TestRunGroupsEveryObjectOfARun(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		preset, template string
		delta            bool
	}{
		{"default", "", false},
		{"halfpipe", "", false},
		{"halfpipe", "", true},
		{"default", "{prefix}/{object}/dt={date}/{run_id}/p{part}.{ext}", false},
	} {
		l, err := New(tc.preset, tc.template)
		if err != nil {
			t.Fatal(err)
		}
		runs := []Vars{
			{Prefix: "x", Object: "orders", RunID: NewRunID(t0), Ext: "csv.gz", Start: t0},
			{Prefix: "x", Object: "orders", RunID: NewRunID(t0.Add(time.Second)), Ext: "csv.gz", Start: t0.Add(time.Second)},
		}
		if tc.delta {
			runs[0].DeltaFrom, runs[0].DeltaTo = "1", "100"
			runs[1].DeltaFrom, runs[1].DeltaTo = "100", "200"
		}
		var groups []string
		for _, v := range runs {
			keys := []string{l.Manifest(v), l.File(v, 1), l.File(v, 2), l.File(v, 12345)}
			if l.Name == "halfpipe" {
				keys = append(keys, l.HalfpipeMan(v))
			}
			g := RunGroup(keys[0])
			for _, k := range keys[1:] {
				if got := RunGroup(k); got != g {
					t.Errorf("%s %s: %s is in group %q, its manifest %s in %q", tc.preset, tc.template, k, got, keys[0], g)
				}
			}
			groups = append(groups, g)
		}
		if groups[0] == groups[1] {
			t.Errorf("%s %s: two runs share the group %q", tc.preset, tc.template, groups[0])
		}
	}
	if RunGroup("x/orders/_state.json") != "" || RunGroup("x/orders/.lock") != "" {
		t.Error("the delta state and hidden files belong to no run")
	}
}

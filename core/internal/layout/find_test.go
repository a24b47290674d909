package layout

import "testing"

func TestIsManifestFindsEveryPresetsManifest(t *testing.T) {
	def, _ := New("default", "")
	hp, _ := New("halfpipe", "")
	v := Vars{Object: "orders", RunID: "r1", Ext: "csv.gz", Start: start}
	nested := v
	nested.Prefix = "daily"
	for _, tc := range []struct {
		key, prefix string
		want        bool
	}{
		{def.Manifest(v), "orders", true},
		{def.Manifest(v), "orders/r1", true},
		{def.Manifest(v), "", true},
		{def.Manifest(v), "ord", false},
		{def.File(v, 1), "orders", false},
		{hp.Manifest(v), "orders", true},
		{hp.Manifest(v), "", true},
		{hp.Manifest(nested), "daily", true},
		{hp.Manifest(nested), "daily/orders", true},
		{hp.HalfpipeMan(v), "orders", false},
		{hp.File(v, 1), "orders", false},
		{"orders-extra-20240305T070809.manifest.json", "orders", false},
		{"orders2/r1/_manifest.json", "orders", false},
		{"orders/r1/._manifest.json.tmp-ab", "orders", false},
	} {
		if got := IsManifest(tc.key, tc.prefix); got != tc.want {
			t.Errorf("IsManifest(%q, %q) = %v, want %v", tc.key, tc.prefix, got, tc.want)
		}
	}
}

func TestIsManifestFindsHalfpipeDeltaManifests(t *testing.T) {
	if !IsManifest("exports/orders-20240101T000000-20240331T144000-20240401T020304_000001.manifest.json", "exports/orders") {
		t.Error("a halfpipe delta manifest was not found")
	}
}

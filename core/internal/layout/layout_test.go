package layout

import (
	"strings"
	"testing"
	"time"
)

var start = time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)

func TestDefaultLayout(t *testing.T) {
	l, err := New("default", "")
	if err != nil {
		t.Fatal(err)
	}
	v := Vars{Prefix: "", Object: "orders", RunID: "r1", Ext: "csv.gz", Start: start}
	if got := l.File(v, 3); got != "orders/r1/part-00003.csv.gz" {
		t.Errorf("file = %q", got)
	}
	if got := l.Manifest(v); got != "orders/r1/_manifest.json" {
		t.Errorf("manifest = %q", got)
	}
	v.Prefix = "a/b"
	if got := l.File(v, 1); got != "a/b/orders/r1/part-00001.csv.gz" {
		t.Errorf("file with prefix = %q", got)
	}
}

func TestHalfpipeLayout(t *testing.T) {
	l, _ := New("halfpipe", "")
	v := Vars{Prefix: "in", Object: "orders", RunID: "r", Ext: "csv.gz", Start: start}
	if got := l.File(v, 1); got != "in/orders-20240305T070809_000001.csv.gz" {
		t.Errorf("file = %q", got)
	}
	if got := l.HalfpipeMan(v); got != "in/orders-20240305T070809.man" {
		t.Errorf(".man = %q", got)
	}
	if got := l.Manifest(v); got != "in/orders-20240305T070809.manifest.json" {
		t.Errorf("manifest = %q", got)
	}
}

func TestTemplateErrors(t *testing.T) {
	for tmpl, want := range map[string]string{
		"{prefix}/{nope}/{part}.{ext}":  "{nope}",
		"{prefix}/{object}/file.{ext}":  "{part}",
		"{part}/{object}-{part}.{ext}":  "only in the file name",
		"{prefix}/{object}/{part.{ext}": "malformed",
	} {
		if _, err := New("default", tmpl); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("template %q: %v, want mention of %q", tmpl, err, want)
		}
	}
	if _, err := New("fancy", ""); err == nil {
		t.Error("unknown preset accepted")
	}
	l, err := New("default", "{schema}_{table}/{date}/{time}-{part:03}.{ext}")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.File(Vars{Schema: "s", Table: "t", Ext: "parquet", Start: start}, 7); got != "s_t/20240305/070809-007.parquet" {
		t.Errorf("custom = %q", got)
	}
	if a, b := NewRunID(start), NewRunID(start); a == b || !strings.HasPrefix(a, "20240305T070809Z-") {
		t.Errorf("run ids %q %q", a, b)
	}
}

func TestHalfpipeDeltaNames(t *testing.T) {
	l, err := New("halfpipe", "")
	if err != nil {
		t.Fatal(err)
	}
	v := Vars{Prefix: "exports", Object: "orders", Ext: "csv.gz", Start: time.Date(2024, 4, 1, 2, 3, 4, 0, time.UTC),
		DeltaFrom: "20240101T000000", DeltaTo: "20240331T144000"}
	if got := l.File(v, 2); got != "exports/orders-20240101T000000-20240331T144000-20240401T020304_000002.csv.gz" {
		t.Errorf("file %s", got)
	}
	man := l.HalfpipeMan(v)
	if man != "exports/orders-20240101T000000-20240331T144000-20240401T020304_000001.man" {
		t.Errorf(".man %s", man)
	}
}

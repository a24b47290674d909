package verify_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/core/internal/format"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/verify/verifytest"
)

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func rewrite(t *testing.T, dir, key string, edit func(*manifest.Manifest)) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(key))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	if data, err = m.Marshal(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyFailsOnUnlistedFile(t *testing.T) {
	tg := publish(t)
	m := tg.runs[0]
	extra := filepath.Join(filepath.Dir(tg.path(m, 0)), "part-00099.csv.gz")
	copyFile(t, tg.path(m, 0), extra)
	hpExtra := strings.Replace(tg.path(tg.runs[3], 1), "_000002.", "_000003.", 1)
	copyFile(t, tg.path(tg.runs[3], 1), hpExtra)

	code, out, errOut := hp(t, tg.env, "verify", "out.x")
	if code != 1 || !strings.Contains(out, "FAIL file://"+filepath.ToSlash(extra)+": not in the manifest") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "1 file no manifest names") {
		t.Errorf("the error must count the unlisted files: %s", errOut)
	}
	code, out, _ = hp(t, tg.env, "verify", "out.h")
	if code != 1 || !strings.Contains(out, filepath.ToSlash(hpExtra)+": not in the manifest") {
		t.Fatalf("halfpipe layout: exit %d\n%s", code, out)
	}
	// The one run, by id, fails too; the others pass.
	code, _, _ = hp(t, tg.env, "verify", "out.x/orders/"+m.RunID)
	if code != 1 {
		t.Errorf("verify of run %s: exit %d", m.RunID, code)
	}
	if code, out, _ := hp(t, tg.env, "verify", "out.x/orders/"+tg.runs[1].RunID); code != 0 {
		t.Errorf("verify of the intact run %s: exit %d\n%s", tg.runs[1].RunID, code, out)
	}
}

func TestVerifyFailsOnEmptyManifest(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	// A run that read no rows publishes no files: that is fine.
	verifytest.Write(t, dir, verifytest.Run{Target: "z/empty", Start: t0})
	if code, out, errOut := hp(t, env, "verify", "out.z"); code != 0 {
		t.Fatalf("zero-row run: exit %d\n%s%s", code, out, errOut)
	}
	// A manifest edited to list none of its run's files is not.
	_, key := verifytest.Write(t, dir, verifytest.Run{Target: "z/orders", Start: t0, Format: format.Parquet, FileRows: []int{5, 6}})
	rewrite(t, dir, key, func(m *manifest.Manifest) { m.Files, m.TotalRows, m.TotalBytes = nil, 0, 0 })
	code, out, errOut := hp(t, env, "verify", "out.z")
	if code != 1 || linesStarting(out, "FAIL ") != 2 || !strings.Contains(errOut, "2 files no manifest names") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	// So is one listing no files but counting rows.
	rewrite(t, dir, key, func(m *manifest.Manifest) { m.TotalRows = 11 })
	if code, out, _ := hp(t, env, "verify", "out.z/orders"); code != 1 {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestVerifyFailsOnSchemaMismatch(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_OUT_DSN": dir}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, f := range []format.Format{format.Parquet, format.CSV} {
		_, key := verifytest.Write(t, dir, verifytest.Run{Target: "s/" + string(f), Start: t0, Format: f, FileRows: []int{5}})
		// The readable fields disagree with the exact Arrow schema.
		rewrite(t, dir, key, func(m *manifest.Manifest) { m.Schema.Fields[0].Name = "ident" })
		code, out, errOut := hp(t, env, "verify", "out.s/"+string(f))
		if code != 1 || !strings.Contains(out, "schema") || !strings.Contains(out, "ident") {
			t.Errorf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", f, code, out, errOut)
		}
	}
	// A manifest consistent in itself whose schema is not the Parquet
	// file's: a column renamed, or retyped.
	for i, other := range []*arrow.Schema{
		arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "remark", Type: arrow.BinaryTypes.String, Nullable: true}}, nil),
		arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int32}, {Name: "note", Type: arrow.BinaryTypes.String, Nullable: true}}, nil),
	} {
		target := "p/" + strconv.Itoa(i)
		_, key := verifytest.Write(t, dir, verifytest.Run{Target: target, Start: t0, Format: format.Parquet, FileRows: []int{5}})
		if code, out, _ := hp(t, env, "verify", "out."+target); code != 0 {
			t.Fatalf("intact parquet run: exit %d\n%s", code, out)
		}
		s, err := manifest.SchemaOf(other)
		if err != nil {
			t.Fatal(err)
		}
		rewrite(t, dir, key, func(m *manifest.Manifest) { m.Schema = s })
		code, out, errOut := hp(t, env, "verify", "out."+target)
		if code != 1 || !strings.Contains(out, "FAIL ") || !strings.Contains(out, "schema") {
			t.Errorf("%s: exit %d\nstdout:\n%s\nstderr:\n%s", other, code, out, errOut)
		}
	}
}

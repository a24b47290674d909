package shard_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/core/internal/cli/clitest"
	"github.com/halfpipe-io/halfpipe/core/internal/manifest"
	"github.com/halfpipe-io/halfpipe/core/internal/run"
	"github.com/halfpipe-io/halfpipe/core/internal/shard"
)

// sharded is a plan of two shards into a local directory, with the
// shards' files and receipts written as hp shard writes them.
type sharded struct {
	dir, plan string
	env       map[string]string
	p         *shard.Plan
}

func newSharded(t *testing.T) *sharded {
	t.Helper()
	s := &sharded{dir: t.TempDir(), plan: filepath.Join(t.TempDir(), "p.json")}
	s.env = map[string]string{"HP_PG_DSN": "postgres://u:sekrit@127.0.0.1:1/db", "HP_OUT_DSN": s.dir}
	runID := "20261206T020000Z-0a1b2c3d"
	s.p = &shard.Plan{Version: shard.Version, RunID: runID, CreatedAt: time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC),
		Options: run.Spec{Source: "pg.public.orders", Target: "out.orders", CSVHeader: true, CSVDelimiter: ",", MaxFileBytes: "0", RowGroupRows: run.DefaultRowGroupRows},
		ShardBy: "id", KeyType: "int64", Slices: []shard.Slice{{Index: 0, Upper: "100"}, {Index: 1, Lower: "100"}},
		RunDir: "orders/" + runID, ManifestKey: "orders/" + runID + "/_manifest.json", Manifest: "file://" + s.dir + "/orders/" + runID + "/_manifest.json"}
	if err := shard.Write(context.Background(), s.plan, s.p); err != nil {
		t.Fatal(err)
	}
	for i, body := range []string{"id\n1\n2\n", "id\n100\n"} {
		s.shard(t, i, body)
	}
	return s
}

// shard writes shard i's one file and its receipt.
func (s *sharded) shard(t *testing.T, i int, body string) {
	t.Helper()
	key := s.p.RunDir + "/shard-0000" + string(rune('0'+i)) + "-part-00001.csv.gz"
	if err := os.MkdirAll(filepath.Join(s.dir, s.p.RunDir, "_shards"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, key), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	rows := int64(strings.Count(body, "\n") - 1)
	m := &manifest.Manifest{Version: manifest.Version, RunID: s.p.RunID, Mode: "snap", Format: "csv", Compression: "gzip",
		Schema:    manifest.Schema{ArrowIPC: "c2NoZW1h"},
		Files:     []manifest.File{{Path: key, Part: 1, Rows: rows, Bytes: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}},
		TotalRows: rows, TotalBytes: int64(len(body))}
	r := shard.Receipt{Version: shard.Version, RunID: s.p.RunID, Index: i, Slice: s.p.Slices[i], Rows: rows, Bytes: int64(len(body)), Manifest: m}
	data, _ := json.Marshal(r)
	if err := os.WriteFile(filepath.Join(s.dir, s.p.RunDir, "_shards", "0000"+string(rune('0'+i))+".json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (s *sharded) published(t *testing.T) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(s.dir, s.p.ManifestKey))
	return err == nil
}

func TestCommitPublishesExactlyTheShardsFiles(t *testing.T) {
	s := newSharded(t)
	code, _, errOut := clitest.Run(t, s.env, "commit", "--plan", s.plan)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	data, err := os.ReadFile(filepath.Join(s.dir, s.p.ManifestKey))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if m.RunID != s.p.RunID || m.TotalRows != 3 || len(m.Files) != 2 || m.Files[1].Part != 2 || !strings.Contains(m.Files[1].Path, "shard-00001-") || !m.StartedAt.Equal(s.p.CreatedAt) {
		t.Fatalf("manifest: %+v", m)
	}
	if strings.Contains(string(data), "sekrit") || strings.Contains(errOut, "sekrit") {
		t.Fatal("a password was published")
	}
	// Again: the same files, no error.
	if code, _, errOut := clitest.Run(t, s.env, "commit", "--plan", s.plan); code != 0 {
		t.Fatalf("a repeated commit: exit %d: %s", code, errOut)
	}
}

func TestCommitRefusesMissingOrChangedShards(t *testing.T) {
	for _, c := range []struct {
		name   string
		spoil  func(t *testing.T, s *sharded)
		saying string
	}{
		{"no receipt", func(t *testing.T, s *sharded) {
			_ = os.Remove(filepath.Join(s.dir, s.p.RunDir, "_shards", "00001.json"))
		}, "shard 1 has no receipt"},
		{"a file changed", func(t *testing.T, s *sharded) {
			_ = os.WriteFile(filepath.Join(s.dir, s.p.RunDir, "shard-00000-part-00001.csv.gz"), []byte("id\n1\n3\n"), 0o644)
		}, "hashes to"},
		{"a file gone", func(t *testing.T, s *sharded) {
			_ = os.Remove(filepath.Join(s.dir, s.p.RunDir, "shard-00001-part-00001.csv.gz"))
		}, "which is missing"},
		{"a file grown", func(t *testing.T, s *sharded) {
			_ = os.WriteFile(filepath.Join(s.dir, s.p.RunDir, "shard-00001-part-00001.csv.gz"), []byte("id\n100\n101\n"), 0o644)
		}, "of 7 bytes, which holds 11"},
		{"another run's receipt", func(t *testing.T, s *sharded) {
			s.p.RunID = "20261206T020000Z-ffffffff"
			s.shard(t, 1, "id\n100\n")
		}, "a receipt of run 20261206T020000Z-ffffffff"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSharded(t)
			c.spoil(t, s)
			code, _, errOut := clitest.Run(t, s.env, "commit", "--plan", s.plan)
			if code != 1 || !strings.Contains(errOut, c.saying) || !strings.Contains(errOut, "nothing was published") {
				t.Fatalf("exit %d, want 1 saying %q: %s", code, c.saying, errOut)
			}
			if s.published(t) {
				t.Fatal("a refused commit published the manifest")
			}
		})
	}
}

func TestShardCommandsRefuseBadUsage(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HP_PG_DSN": "postgres://127.0.0.1:1/db", "HP_OUT_DSN": dir}
	plan := filepath.Join(dir, "p.json")
	for _, c := range []struct {
		args   []string
		saying string
	}{
		{[]string{"commit"}, "--plan URL is required"},
		{[]string{"plan", "pg.public.t", "out.t", "--plan", plan}, "--shards must be between 1 and 10000, not 0"},
		{[]string{"plan", "pg.public.t", "out.t", "--plan", plan, "--shards", "2", "--query", "select 1"}, "a --query read cannot be sharded"},
		{[]string{"plan", "pg.public.t", "out.t", "--plan", plan, "--shards", "2", "--layout", "halfpipe"}, "default layout"},
		{[]string{"plan", "pg.public.t", "pg.public.u", "--plan", plan, "--shards", "2"}, "writes files to a file or S3 target"},
		{[]string{"shard", "--plan", filepath.Join(dir, "none.json"), "--index", "0"}, "reading the plan"},
	} {
		code, _, errOut := clitest.Run(t, env, c.args...)
		if code == 0 || !strings.Contains(errOut, c.saying) {
			t.Errorf("hp %v: exit %d, want an error saying %q: %s", c.args, code, c.saying, errOut)
		}
	}
	if _, err := os.Stat(plan); err == nil {
		t.Error("a refused plan was written")
	}
}

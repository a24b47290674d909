package e2e

import (
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestDiffHashTextKeys: hp diff --hash between PostgreSQL and MariaDB,
// whose default collation holds a = A and e = é, on a key of an integer
// then mixed-case, accented text. Keys that differ only in case or accent
// hash apart and are found exactly as a plain diff finds them, in byte
// order. A text first key is refused, naming the collations.
func TestDiffHashTextKeys(t *testing.T) {
	t.Parallel() // its own tables
	bin := testkit.Build(t, "postgres", "mysql")
	const src, tgt = "hp_e2e_sync21_ht_src", "hp_e2e_sync21_ht_tgt"
	pgExec(t, `drop table if exists `+src+`;
		create table `+src+` (id int, code text, note text, primary key (id, code));
		insert into `+src+` select g, (array['a','A','b','é','É','e','Zz','ß'])[g % 8 + 1], 'n' || g from generate_series(1, 20000) g`)
	mysqlOut(t, "DROP TABLE IF EXISTS "+tgt)
	t.Cleanup(func() {
		_ = mysqlOutQuiet("DROP TABLE IF EXISTS " + tgt)
		pgExec(t, "drop table if exists "+src)
	})
	env := []string{"HP_PG_DSN=" + pgDSN, "HP_MY_DSN=" + myDSN}
	for _, args := range [][]string{{"cp", "meta", "pg.public." + src, "my." + tgt, "--execute"}, {"cp", "snap", "pg.public." + src, "my." + tgt}} {
		if res := bin.Run(t, env, args...); res.Code != 0 {
			t.Fatalf("hp %v: exit %d\n%s", args, res.Code, res.Stderr)
		}
	}
	if got := mysqlOut(t, "SELECT 'a' = 'A' AND 'e' = 'é' COLLATE utf8mb4_general_ci, COUNT(*) FROM "+tgt+" WHERE code = 'a'"); got != "1\t5000\n" {
		t.Fatalf("the target's collation does not hold a = A: %q", got)
	}
	diff := func(want int, args ...string) string {
		t.Helper()
		res := bin.Run(t, env, append([]string{"diff", "pg.public." + src, "my." + tgt, "--primary-keys", "id,code"}, args...)...)
		if res.Code != want {
			t.Fatalf("hp diff %v: exit %d, want %d\n%s%s", args, res.Code, want, res.Stdout, res.Stderr)
		}
		return res.Stdout
	}
	if out := diff(0, "--hash"); out != "" {
		t.Fatalf("--hash of a fresh copy:\n%s", out)
	}
	// Case and accent only, which MariaDB's collation calls equal, and a
	// value changed under a key MariaDB orders otherwise than bytes.
	mysqlOut(t, "UPDATE "+tgt+" SET code = 'A' WHERE id = 8000; UPDATE "+tgt+" SET code = 'e' WHERE id = 3;"+
		" UPDATE "+tgt+" SET code = 'ss' WHERE id = 7; UPDATE "+tgt+" SET note = 'changed' WHERE id = 12345")
	hashed, plain := diff(1, "--hash"), diff(1)
	if hashed != plain {
		t.Fatalf("--hash and plain diff differ:\n--hash:\n%s\nplain:\n%s", hashed, plain)
	}
	exp := `{"status":"deleted","key":{"id":3,"code":"e"},"columns":[]}
{"status":"new","key":{"id":3,"code":"é"},"columns":[]}
{"status":"deleted","key":{"id":7,"code":"ss"},"columns":[]}
{"status":"new","key":{"id":7,"code":"ß"},"columns":[]}
{"status":"deleted","key":{"id":8000,"code":"A"},"columns":[]}
{"status":"new","key":{"id":8000,"code":"a"},"columns":[]}
{"status":"changed","key":{"id":12345,"code":"A"},"columns":["note"]}
`
	if hashed != exp {
		t.Fatalf("--hash found\n%s\nwant\n%s", hashed, exp)
	}
	res := bin.Run(t, env, "diff", "pg.public."+src, "my."+tgt, "--primary-keys", "code,id", "--hash")
	if res.Code != 2 {
		t.Fatalf("--hash on a text first key: exit %d\n%s", res.Code, res.Stderr)
	}
	testkit.Contains(t, "--hash on a text first key", res.Stderr, `integer first key, and "code"`, "collation", "--primary-keys")
	if strings.Contains(res.Stdout, "status") {
		t.Fatalf("a refused diff printed differences:\n%s", res.Stdout)
	}
}

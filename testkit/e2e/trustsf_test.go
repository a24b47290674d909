package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
	sfserver "github.com/halfpipe-io/halfpipe/testkit/snowflake"
)

// TestTrustStagedOffsetsRefusedBeforePublish: a staged run in Parquet
// (the default through a stage) of a table with a timestamp and its
// offset, which Snowflake's COPY cannot load from a Parquet struct, is
// refused before anything is published: no files and no manifest under
// --publish-to, no statement to Snowflake, no table; the error names the
// column and the ways out. Snapshots and deltas alike.
func TestTrustStagedOffsetsRefusedBeforePublish(t *testing.T) {
	t.Parallel()
	bin := testkit.Build(t, "snowflake")
	s3srv, env := s3Target(t, "")
	sf := sfserver.Start(t, sfserver.Config{Account: "hptest", Users: []sfserver.User{{Name: "ETL", Password: "sf-pw-123"}}, S3: s3srv.Client(t)})
	sf.AddStage("LAKE", "s3://lake/raw/")
	env = append(env, fmt.Sprintf("HP_SF_DSN=snowflake://etl:sf-pw-123@hptest/TEST_DB/PUBLIC?protocol=http&host=%s&port=%d", sf.Host, sf.Port))
	if err := sf.Exec(`CREATE TABLE "PUBLIC"."TRUST_TZSRC" ("ID" NUMBER(38,0) NOT NULL, "TZ" TIMESTAMP_TZ(6), PRIMARY KEY ("ID"))`,
		`INSERT INTO "PUBLIC"."TRUST_TZSRC" VALUES (1, '2024-05-01 12:34:56.123456 +05:30'), (2, NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, pub string
		args      []string
	}{
		{"snap", "trust_tz_snap", []string{"cp", "snap", "sf.PUBLIC.TRUST_TZSRC", "sf.PUBLIC.TRUST_TZ_SNAP", "--stage", "LAKE", "--publish-to", "s3.trust_tz_snap"}},
		{"delta", "trust_tz_delta", []string{"cp", "delta", "sf.PUBLIC.TRUST_TZSRC", "sf.PUBLIC.TRUST_TZ_DELTA", "--stage", "LAKE", "--publish-to", "s3.trust_tz_delta",
			"--delta-driver", "ID", "--primary-keys", "ID"}},
	} {
		sf.ResetStatements()
		res := bin.Run(t, env, tc.args...)
		if res.Code == 0 || !strings.Contains(res.Stderr, `column "TZ"`) || !strings.Contains(res.Stderr, "--format csv") {
			t.Errorf("%s: exit %d\n%s", tc.name, res.Code, res.Stderr)
		}
		for key := range s3srv.Objects(t, "lake", "raw/"+tc.pub) {
			// The delta's state (its lock) may be written; no run is.
			if strings.HasSuffix(key, ".parquet") || strings.Contains(key, "manifest") {
				t.Errorf("%s: the refused run published %s", tc.name, key)
			}
		}
		for _, st := range sfStatements(sf) {
			if !strings.HasPrefix(st, "SELECT") && !strings.HasPrefix(st, "DESCRIBE") && !strings.HasPrefix(st, "SHOW") && !strings.HasPrefix(st, "ALTER SESSION") {
				t.Errorf("%s: the refused run sent %s", tc.name, st)
			}
		}
		if _, ok := sf.Rows("PUBLIC." + strings.TrimPrefix(tc.args[3], "sf.PUBLIC.")); ok {
			t.Errorf("%s: the refused run created its table", tc.name)
		}
	}
	// CSV carries the offsets: the same snapshot goes through.
	if res := bin.Run(t, env, "cp", "snap", "sf.PUBLIC.TRUST_TZSRC", "sf.PUBLIC.TRUST_TZ_CSV", "--stage", "LAKE", "--publish-to", "s3.trust_tz_csv", "--format", "csv"); res.Code != 0 {
		t.Fatalf("CSV run: exit %d\n%s", res.Code, res.Stderr)
	}
	if rows, ok := sf.Rows("PUBLIC.TRUST_TZ_CSV"); !ok || len(rows) != 2 {
		t.Errorf("CSV run loaded %v", rows)
	}
}

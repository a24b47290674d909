package create

import (
	"strings"
	"testing"
)

func TestStageSQL(t *testing.T) {
	q, err := StageSQL("PUBLIC.HP_LAKE", "s3://my-lake/raw", "HP_S3", false)
	if want := "CREATE STAGE IF NOT EXISTS PUBLIC.HP_LAKE URL = 's3://my-lake/raw/' STORAGE_INTEGRATION = HP_S3"; err != nil || q != want {
		t.Errorf("got %q, %v\nwant %q", q, err, want)
	}
	q, err = StageSQL("HP_LAKE", "s3://my-lake/raw/", "HP_S3", true)
	if err != nil || !strings.HasPrefix(q, "CREATE OR REPLACE STAGE HP_LAKE ") {
		t.Errorf("--replace: %q, %v", q, err)
	}
	for _, c := range []struct{ name, url, integ, want string }{
		{"x; DROP TABLE t", "s3://my-lake/raw/", "HP_S3", "stage"},
		{"HP_LAKE", "s3://my-lake/it's/", "HP_S3", "--url"},
		{"HP_LAKE", "https://my-lake/raw/", "HP_S3", "--url"},
		{"HP_LAKE", "s3://my-lake/raw/", "", "--storage-integration"},
		{"HP_LAKE", "s3://my-lake/raw/", "DB.HP_S3", "--storage-integration"},
	} {
		if _, err := StageSQL(c.name, c.url, c.integ, false); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error naming %s", c, err, c.want)
		}
	}
}

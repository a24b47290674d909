package halfpipe

import (
	"fmt"
	"strings"
	"testing"
)

func TestTwelveFactorArgs(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"HP_COMMAND": "cp", "HP_SUBCOMMAND": "snap", "HP_SOURCE_OBJECT": "dbo.sample_data", "HP_TARGET_OBJECT": "x/y"},
			"[cp snap source.dbo.sample_data target.x/y]"},
		{map[string]string{"HP_COMMAND": "cp", "HP_SUBCOMMAND": "delta", "HP_SOURCE_OBJECT": "t", "HP_TARGET_OBJECT": "t2"}, "[cp delta source.t target.t2]"},
		{map[string]string{"HP_COMMAND": "query", "HP_SOURCE_OBJECT": "select 1"}, "[query source select 1]"},
		{map[string]string{"HP_COMMAND": "verify", "HP_TARGET_OBJECT": "orders"}, "[verify target.orders]"},
		{map[string]string{"HP_COMMAND": "cp", "HP_SUBCOMMAND": "snap"}, "error: HP_SOURCE_OBJECT"},
		{map[string]string{"HP_SUBCOMMAND": "snap"}, "error: HP_12FACTOR_MODE is set but HP_COMMAND is not"},
	} {
		args, err := TwelveFactorArgs(func(k string) (string, bool) { v, ok := c.env[k]; return v, ok })
		got := fmt.Sprint(args)
		if err != nil {
			got = "error: " + err.Error()
		}
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%v: %s, want %s", c.env, got, c.want)
		}
	}
}

// TestDeltaManNames: the upper end of a delta run's range is read back
// from its .man name, and only from the object's own.
func TestDeltaManNames(t *testing.T) {
	man := "exports/orders-20240101T000000-20240331T144000-20240401T020304_000001.man"
	m := deltaMan("orders").FindStringSubmatch(man)
	if m == nil || m[1] != "20240331T144000" {
		t.Errorf("the .man name does not parse back: %v", m)
	}
	if deltaMan("orders").MatchString("exports/big_orders-20240101T000000-20240331T144000-20240401T020304_000001.man") {
		t.Error("another object's .man matched")
	}
	if m := deltaMan("events").FindStringSubmatch("events-0-5000-20240401T020304_000001.man"); m == nil || m[1] != "5000" {
		t.Errorf("sequence .man: %v", m)
	}
}

func TestMan(t *testing.T) {
	if got := string(Man([]string{"a/b-1_000001.csv.gz", "a/b-1_000002.csv.gz"})); got != "FileName\nb-1_000001.csv.gz\nb-1_000002.csv.gz\n" {
		t.Fatalf(".man = %q", got)
	}
}

package tds

import (
	"reflect"
	"testing"
)

// TestParseRPCCalls decodes a request of two calls as FreeTDS sends a
// prepared statement and its execution: sp_prepare by id, then, after a
// batch flag, sp_execute by name.
func TestParseRPCCalls(t *testing.T) {
	var b tokBuf
	b.u32(4) // ALL_HEADERS: none
	param := func(name string) {
		b.u8(byte(len(name)))
		b.ucs2(name)
	}
	nvarchar := func(s string) {
		b.raw([]byte{0xE7, 0x40, 0x1F, 0, 0, 0, 0, 0}) // NVARCHAR(4000), collation
		b.u16(uint16(2 * len(s)))
		b.ucs2(s)
	}
	b.u16(0xFFFF)
	b.u16(procPrepare)
	b.u16(0)
	param("@handle")
	b.raw([]byte{1, tInt, 4, 0}) // output, NULL int
	param("@params")
	b.u8(0)
	nvarchar("@P1 BIGINT")
	param("@stmt")
	b.u8(0)
	nvarchar("INSERT INTO t VALUES (@P1)")
	b.u8(0xFF) // batch flag
	b.u16(uint16(len("sp_execute")))
	b.ucs2("sp_execute")
	b.u16(0)
	param("")
	b.raw([]byte{0, tInt, 4, 4})
	b.u32(1)
	param("")
	b.raw([]byte{0, tInt, 8, 8})
	b.u64(42)

	calls, err := parseRPC(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []rpcCall{
		{procID: procPrepare, params: []Param{{"@handle", nil}, {"@params", "@P1 BIGINT"}, {"@stmt", "INSERT INTO t VALUES (@P1)"}}},
		{procID: procExecute, params: []Param{{"", int64(1)}, {"", int64(42)}}},
	}
	if !reflect.DeepEqual(calls, want) {
		t.Fatalf("got %#v\nwant %#v", calls, want)
	}
	q := rpcCall{procID: procExecuteSQL, params: []Param{{"", "SELECT @P1"}, {"", "@P1 int"}, {"", int64(5)}}}.query()
	if q.SQL != "SELECT @P1" || q.Decl != "@P1 int" || !reflect.DeepEqual(q.Args(), []any{int64(5)}) || !q.RPC {
		t.Errorf("sp_executesql as a query: %+v", q)
	}
}

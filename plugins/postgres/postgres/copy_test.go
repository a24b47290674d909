package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/batch"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
	"github.com/halfpipe-io/halfpipe/testkit"
)

func dsn() string {
	if d := os.Getenv("HP_TEST_POSTGRES_DSN"); d != "" {
		return d
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// openDB connects to the test server, closed when the test ends.
func openDB(tb testing.TB) *sql.DB {
	tb.Helper()
	db, err := sql.Open("pgx", dsn())
	if err == nil {
		err = db.Ping()
	}
	if err != nil {
		testkit.NeedService(tb, "PostgreSQL", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// scratchTable runs ddl, in which %[1]s is a new table's unique name
// starting with prefix, and drops the table when the test ends.
func scratchTable(t *testing.T, db *sql.DB, prefix, ddl string) string {
	t.Helper()
	table := fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano())
	if _, err := db.Exec(fmt.Sprintf(ddl, table)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.Exec("drop table " + table) })
	return table
}

func TestCopyCoversCommonTypes(t *testing.T) {
	for _, native := range []string{"smallint", "integer", "bigint", "real", "double precision", "numeric(38,10)", "numeric",
		"text", "character varying(20)", "character(3)", "bytea", "boolean", "date", "timestamp without time zone",
		"timestamp with time zone", "timestamp(3) with time zone", "time without time zone", "time(3) without time zone", "uuid", "json", "jsonb", "interval", "interval year to month", "inet", "cidr",
		"macaddr", "macaddr8", "integer[]", "text[]", "numeric(10,2)[]", "timestamp with time zone[]", "uuid[]", "interval[]"} {
		if binaryDecoder(native) == nil {
			t.Errorf("%s has no binary decoder: reads of it fall back to the slow path", native)
		}
	}
	// Read as PostgreSQL's text form, cast to text in the COPY.
	for _, native := range []string{"integer[][]", "time with time zone", "money", "mood[]"} {
		if binaryDecoder(native) != nil {
			t.Errorf("%s has a binary decoder", native)
		}
	}
}

// TestCopyNumericsAgreeWithServerText reads numerics through COPY BINARY and
// compares them with the server's own text rendering.
func TestCopyNumericsAgreeWithServerText(t *testing.T) {
	db := openDB(t)
	table := fmt.Sprintf("hp_numeric_%d", time.Now().UnixNano())
	values := []string{"0", "0.0001", "-0.5", "1e-20", "100000000", "-123456789012345678901234567890.5", "9999999999999999.99", "12345.678901234567890123"}
	if _, err := db.Exec("CREATE TABLE " + table + " (id int PRIMARY KEY, n numeric, s numeric(38,8))"); err != nil {
		t.Fatal(err)
	}
	defer db.Exec("DROP TABLE " + table)
	for i, v := range values {
		if _, err := db.Exec("INSERT INTO "+table+" VALUES ($1, $2::numeric, round($2::numeric, 8))", i, v); err != nil {
			t.Fatal(err)
		}
	}
	c := New()
	rr, err := c.Read(context.Background(), sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn()}, Source: sdk.Source{Object: &sdk.ObjectRef{Name: table}}, OrderBy: []sdk.OrderBy{{Column: "id"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if !rr.Next() {
		t.Fatal(rr.Err())
	}
	rec := rr.RecordBatch()
	n, s := rec.Column(1).(*array.String), rec.Column(2).(*array.Decimal128)
	for i := range values {
		var wantN, wantS string
		if err := db.QueryRow("SELECT n::text, s::text FROM "+table+" WHERE id = $1", i).Scan(&wantN, &wantS); err != nil {
			t.Fatal(err)
		}
		if n.Value(i) != wantN {
			t.Errorf("numeric %s: got %s, server says %s", values[i], n.Value(i), wantN)
		}
		if got := s.Value(i).ToString(8); got != wantS {
			t.Errorf("numeric(38,8) %s: got %s, server says %s", values[i], got, wantS)
		}
	}
}

// copyStream returns the binary COPY stream of q, as the server sends it.
func copyStream(t testing.TB, q string) []byte {
	t.Helper()
	pc, err := pgconn.Connect(context.Background(), dsn())
	if err != nil {
		testkit.NeedService(t, "PostgreSQL", err)
	}
	defer pc.Close(context.Background())
	var buf bytes.Buffer
	if _, err := pc.CopyTo(context.Background(), &buf, "COPY ("+q+") TO STDOUT (FORMAT binary)"); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decodeChunked feeds stream to a row decoder in writes of chunk bytes and
// returns the batches it sent and the error that ended it. With builders,
// every column goes through its Arrow builder, not its direct path.
func decodeChunked(schema *arrow.Schema, natives []string, stream []byte, chunk int, maxRows int64, builders bool) ([]arrow.RecordBatch, error) {
	decoders := make([]binDecoder, len(natives))
	for i, n := range natives {
		decoders[i] = binaryDecoder(n)
	}
	d := newRowDecoder(context.Background(), schema, natives, decoders, maxRows, 0)
	if builders {
		for i := range d.cols {
			d.cols[i].release()
			d.cols[i] = newColumn(memory.DefaultAllocator, natives[i], schema.Field(i).Type, decoders[i], kindBuilder)
		}
	}
	defer d.release()
	var batches []arrow.RecordBatch
	got := make(chan struct{})
	go func() {
		defer close(got)
		for rec := range d.out {
			d.flight.Done(rec)
			batches = append(batches, rec)
		}
	}()
	err := func() error {
		for len(stream) > 0 {
			n := min(chunk, len(stream))
			if _, err := d.Write(stream[:n]); err != nil {
				return err
			}
			stream = stream[n:]
		}
		return d.finish()
	}()
	close(d.out)
	<-got
	return batches, err
}

// TestRowDecoderTakesAnySplit decodes a real COPY stream written in pieces
// of every awkward size (the header, rows and the end marker split
// anywhere), and checks every value and the batch sizes.
func TestRowDecoderTakesAnySplit(t *testing.T) {
	const rows = 2500
	stream := copyStream(t, fmt.Sprintf(`SELECT g AS id, CASE WHEN g %% 7 = 0 THEN NULL ELSE 'row ' || g END AS s,
		(g / 100.0)::numeric(10,2) AS n, date '2000-01-01' + g AS d, ARRAY[g, NULL, -g] AS a FROM generate_series(1, %d) g`, rows))
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int32}, {Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}}, {Name: "d", Type: arrow.FixedWidthTypes.Date32},
		{Name: "a", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32)}}, nil)
	natives := []string{"integer", "text", "numeric(10,2)", "date", "integer[]"}
	for _, chunk := range []int{1, 2, 7, 19, 20, 333, 4096, len(stream)} {
		batches, err := decodeChunked(schema, natives, stream, chunk, 1000, false)
		if err != nil {
			t.Fatalf("writes of %d bytes: %v", chunk, err)
		}
		var sizes []int64
		g := 0
		for _, rec := range batches {
			sizes = append(sizes, rec.NumRows())
			ids, ss := rec.Column(0).(*array.Int32), rec.Column(1).(*array.String)
			ns, ds, as := rec.Column(2).(*array.Decimal128), rec.Column(3).(*array.Date32), rec.Column(4).(*array.List)
			for i := 0; i < int(rec.NumRows()); i++ {
				g++
				var elems []string
				from, to := as.ValueOffsets(i)
				for j, a := from, as.ListValues().(*array.Int32); j < to; j++ {
					elems = append(elems, a.ValueStr(int(j)))
				}
				if got, want := strings.Join(elems, " "), fmt.Sprintf("%d (null) %d", g, -g); got != want {
					t.Fatalf("writes of %d bytes: row %d reads array [%s], want [%s]", chunk, g, got, want)
				}
				if ids.Value(i) != int32(g) || ns.Value(i).ToString(2) != fmt.Sprintf("%d.%02d", g/100, g%100) ||
					ds.Value(i) != arrow.Date32(pgEpochDays+g) || ss.IsNull(i) != (g%7 == 0) || (g%7 != 0 && ss.Value(i) != fmt.Sprintf("row %d", g)) {
					t.Fatalf("writes of %d bytes: row %d reads %d, %q, %s, %d", chunk, g, ids.Value(i), ss.Value(i), ns.Value(i).ToString(2), ds.Value(i))
				}
			}
			rec.Release()
		}
		if g != rows || fmt.Sprint(sizes) != "[1000 1000 500]" {
			t.Errorf("writes of %d bytes: %d rows in batches of %v, want %d in [1000 1000 500]", chunk, g, sizes, rows)
		}
	}
}

// TestRowDecoderHoldsBigBatchesWithinBudget: batches of two 3 MiB rows (6
// MiB, the byte limit is 4) go to a slow reader; the decoder starts a
// batch only when the ones the reader has not moved past leave room for
// it, so no more than the flight's 8 MiB are ever held downstream (a
// channel of one batch plus the one being sent would hold 12).
func TestRowDecoderHoldsBigBatchesWithinBudget(t *testing.T) {
	stream := copyStream(t, `SELECT g AS id, repeat(chr(64 + g), 3 << 20) AS s FROM generate_series(1, 8) g`)
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int32}, {Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	natives := []string{"integer", "text"}
	decoders := []binDecoder{binaryDecoder(natives[0]), binaryDecoder(natives[1])}
	d := newRowDecoder(context.Background(), schema, natives, decoders, 0, 0)
	defer d.release()
	done := make(chan error, 1)
	go func() {
		defer close(d.out)
		for len(stream) > 0 {
			n := min(256<<10, len(stream))
			if _, err := d.Write(stream[:n]); err != nil {
				done <- err
				return
			}
			stream = stream[n:]
		}
		done <- d.finish()
	}()
	rows, most := 0, int64(0)
	for rec := range d.out {
		time.Sleep(30 * time.Millisecond) // sending it
		most = max(most, d.flight.InFlight())
		for i := 0; i < int(rec.NumRows()); i++ {
			rows++
			if s := rec.Column(1).(*array.String).Value(i); len(s) != 3<<20 || s[0] != byte(64+rows) {
				t.Fatalf("row %d: %d bytes, or the wrong ones", rows, len(s))
			}
		}
		d.flight.Done(rec)
		rec.Release()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rows != 8 || most > 2*batch.DefaultMaxBytes {
		t.Fatalf("%d rows, at most %d bytes in flight; want 8 and at most %d", rows, most, 2*batch.DefaultMaxBytes)
	}
	if d.flight.InFlight() != 0 {
		t.Fatalf("%d bytes left in flight", d.flight.InFlight())
	}
}

// TestRowDecoderReservesForFullBatches decodes rows like the large shape
// (a 1 MiB value every 20 rows of 100 bytes), one write per row as pgconn
// makes them. A batch ends past the byte limit by its last value, and the
// buffers reserved after one must hold the next like it: regrowing copies
// all of a batch's values again (the plugin's largest cost on that shape).
func TestRowDecoderReservesForFullBatches(t *testing.T) {
	stream := copyStream(t, `SELECT g AS id, CASE WHEN g % 20 = 0 THEN repeat(md5(g::text), 32768) ELSE repeat('s', 100) END AS s FROM generate_series(1, 400) g`)
	schema := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int32}, {Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	natives := []string{"integer", "text"}
	decoders := []binDecoder{binaryDecoder(natives[0]), binaryDecoder(natives[1])}
	d := newRowDecoder(context.Background(), schema, natives, decoders, 0, 0)
	defer d.release()
	var rows int64
	var sentCaps []int // the value buffer's capacity in each batch sent
	got := make(chan struct{})
	go func() {
		defer close(got)
		for rec := range d.out {
			rows += rec.NumRows()
			sentCaps = append(sentCaps, cap(rec.Column(1).Data().Buffers()[2].Buf()))
			d.flight.Done(rec)
			rec.Release()
		}
	}()
	if _, err := d.Write(stream[:19]); err != nil {
		t.Fatal(err)
	}
	stream = stream[19:]
	var reserved []int // its capacity just after each batch was sent
	for len(stream) > 2 {
		end := rowEnd(stream, 2)
		n := d.rows
		if _, err := d.Write(stream[:end]); err != nil {
			t.Fatal(err)
		}
		stream = stream[end:]
		if d.rows != n+1 {
			reserved = append(reserved, cap(d.cols[1].data))
		}
	}
	if _, err := d.Write(stream); err != nil {
		t.Fatal(err)
	}
	if err := d.finish(); err != nil {
		t.Fatal(err)
	}
	close(d.out)
	<-got
	if rows != 400 || len(reserved) < 4 {
		t.Fatalf("%d rows in %d full batches; want 400 in at least 4", rows, len(reserved))
	}
	for k := 1; k < len(reserved); k++ {
		if sentCaps[k] != reserved[k-1] {
			t.Errorf("batch %d: its value buffer grew from the %d bytes reserved to %d", k+1, reserved[k-1], sentCaps[k])
		}
	}
}

// mapNative is the Arrow type the connector reads a catalog type as.
func mapNative(t testing.TB, native string) arrow.DataType {
	t.Helper()
	m, err := mapType(sqlsource.ColumnMeta{Name: "c", NativeType: native, Nullable: true})
	if err != nil {
		t.Fatalf("%s: %v", native, err)
	}
	return m.Type
}

// TestDirectColumnsMatchBuilders decodes a real COPY stream of every type
// with a direct path, edge values and NULLs in each column, through the
// direct paths and through Arrow builders, and compares the batches. The
// batches are larger than the first buffers, so the buffers grow. The
// direct paths take the stream in writes of several sizes: a row cut
// short is decoded field by field and undone, then decoded again whole.
func TestDirectColumnsMatchBuilders(t *testing.T) {
	cols := []struct{ native, expr string }{
		{"smallint", "(array[-32768, 32767, 0])[g % 3 + 1]::smallint"},
		{"integer", "(array[-2147483648, 2147483647, g])[g % 3 + 1]::int"},
		{"real", "(array['NaN', '-Infinity', '1.5e-40', g / 7.0])[g % 4 + 1]::real"},
		{"bigint", "(array[-9223372036854775808, 9223372036854775807, g::bigint * 1000003])[g % 3 + 1]"},
		{"double precision", "(array['NaN', 'Infinity', '-0', g / 7.0])[g % 4 + 1]::float8"},
		{"boolean", "g % 3 = 1"},
		{"date", "date '0001-01-01' + g * 97"},
		{"timestamp without time zone", "timestamp '1900-01-01 00:00:00.000001' + g * interval '7 days 1 microsecond'"},
		{"timestamp with time zone", "timestamptz '2038-01-19 03:14:07.999999+00' - g * interval '1 hour 1 microsecond'"},
		{"numeric(38,8)", "(array[-999999999999999999999999999999.99999999, 0.00000001, g * 1000.5])[g % 3 + 1]::numeric(38,8)"},
		{"numeric(10,2)", "(g / 100.0)::numeric(10,2)"},
		{"text", "(array['', 'ünïcode ' || g, E'nul\\x01\\nline', repeat('x', g)])[g % 4 + 1]"},
		{"character varying(5)", "left(g::text, 5)::varchar(5)"},
		{"character(3)", "(g % 100)::text::char(3)"},
		{"bytea", "(array[''::bytea, decode('00ff', 'hex'), int4send(g)])[g % 3 + 1]"},
	}
	var sel []string
	var fields []arrow.Field
	var natives []string
	for i, c := range cols {
		// Each column is NULL on its own rows, and on every row of a run.
		sel = append(sel, fmt.Sprintf("CASE WHEN g %% %d = 0 OR g BETWEEN 1500 AND 1530 THEN NULL ELSE %s END", i+2, c.expr))
		typ := mapNative(t, c.native)
		if rawKind(c.native, typ) == kindBuilder {
			t.Errorf("%s (%s) has no direct path", c.native, typ)
		}
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("c%d", i), Type: typ, Nullable: true})
		natives = append(natives, c.native)
	}
	const rows = 2600
	stream := copyStream(t, fmt.Sprintf("SELECT %s FROM generate_series(1, %d) g", strings.Join(sel, ", "), rows))
	schema := arrow.NewSchema(fields, nil)
	// The batches' buffers are the batch pool's, here poisoned once freed:
	// every one freed once, and only when its batch is released.
	mem := plugintest.PoisonBatches(t)
	for _, maxRows := range []int64{700, 5000} {
		built, err := decodeChunked(schema, natives, stream, 4096, maxRows, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, chunk := range []int{1, 7, 333, 4096} {
			direct, err := decodeChunked(schema, natives, stream, chunk, maxRows, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(direct) != len(built) {
				t.Fatalf("batches of %d rows, writes of %d bytes: %d direct batches, %d built", maxRows, chunk, len(direct), len(built))
			}
			n := 0
			for i := range direct {
				n += int(direct[i].NumRows())
				for j := range fields {
					a, b := direct[i].Column(j), built[i].Column(j)
					if a.NullN() == 0 {
						t.Errorf("batches of %d rows: batch %d of %s has no NULLs", maxRows, i, natives[j])
					}
					if !array.ApproxEqual(a, b, array.WithNaNsEqual(true)) {
						t.Errorf("batches of %d rows, writes of %d bytes: batch %d of %s differs:\ndirect %v\nbuilt  %v", maxRows, chunk, i, natives[j], a, b)
					}
				}
				direct[i].Release()
			}
			if n != rows {
				t.Errorf("batches of %d rows, writes of %d bytes: %d rows, want %d", maxRows, chunk, n, rows)
			}
		}
		for _, rec := range built {
			rec.Release()
		}
		if live := mem.Live(); live != 0 {
			t.Errorf("batches of %d rows: %d buffers never freed", maxRows, live)
		}
	}
}

// TestRowDecoderRejectsBrokenStreams: a stream cut short, or one that is
// not binary COPY, fails instead of ending quietly.
func TestRowDecoderRejectsBrokenStreams(t *testing.T) {
	stream := copyStream(t, "SELECT g, 'x' || g FROM generate_series(1, 10) g")
	schema := arrow.NewSchema([]arrow.Field{{Name: "g", Type: arrow.PrimitiveTypes.Int32}, {Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	natives := []string{"integer", "text"}
	for name, tc := range map[string]struct {
		stream []byte
		want   string
	}{
		"no end marker": {stream[:len(stream)-2], "without its end marker (0 bytes"},
		"cut in a row":  {stream[:len(stream)-7], "without its end marker (12 bytes"},
		"no header":     {stream[:10], "without its end marker"},
		"not binary":    {append([]byte("PGCOPY\n\xfe\r\n\x00"), stream[11:]...), "does not start with the binary COPY signature"},
		"after the end": {append(append([]byte{}, stream...), 0, 2), "data after its end marker"},
	} {
		for _, chunk := range []int{1, len(tc.stream)} {
			batches, err := decodeChunked(schema, natives, tc.stream, chunk, 0, false)
			for _, rec := range batches {
				rec.Release()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s, writes of %d bytes: error %v, want one containing %q", name, chunk, err, tc.want)
			}
		}
	}
}

// TestCopyStopsCleanly: releasing a reader mid-stream ends the COPY on the
// server and leaves no goroutine behind; a bad value far into the stream
// fails the read with its row named and its kind kept; a bad query fails
// Read itself.
func TestCopyStopsCleanly(t *testing.T) {
	db := openDB(t)
	table := fmt.Sprintf("hp_copystop_%d", time.Now().UnixNano())
	if _, err := db.Exec("CREATE TABLE " + table + ` AS SELECT g AS id, CASE WHEN g = 150000 THEN 'infinity'::timestamp
		ELSE timestamp '2020-01-01' + g * interval '1 second' END AS ts, md5(g::text) AS s FROM generate_series(1, 200000) g`); err != nil {
		t.Fatal(err)
	}
	defer db.Exec("DROP TABLE " + table)
	c := New()
	req := sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn()}, Source: sdk.Source{Object: &sdk.ObjectRef{Name: table}},
		OrderBy: []sdk.OrderBy{{Column: "id"}}, BatchMaxRows: 1000}
	// What is left of a COPY: its goroutine, or pgconn's (context watcher,
	// background reader). The database/sql pool keeps goroutines of its own.
	leftover := func() string {
		buf := make([]byte, 1<<20)
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "startCopy") || strings.Contains(g, "jackc/pgx/v5/pgconn") {
				return g
			}
		}
		return ""
	}
	settled := func(what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for leftover() != "" && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if g := leftover(); g != "" {
			t.Errorf("%s, a goroutine is left:\n%s", what, g)
		}
	}

	t.Run("release mid-stream", func(t *testing.T) {
		rr, err := c.Read(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if !rr.Next() || rr.RecordBatch().NumRows() != 1000 {
			t.Fatalf("first batch: %v", rr.Err())
		}
		rr.Release()
		settled("after Release")
		// The server ends the backend soon after the connection closes.
		var backends int
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if err := db.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%" + table + "%'").Scan(&backends); err != nil {
				t.Fatal(err)
			}
			if backends == 0 || time.Now().After(deadline) {
				break
			}
		}
		if backends != 0 {
			t.Errorf("the COPY's connection is still open after Release")
		}
	})

	t.Run("bad value late", func(t *testing.T) {
		rr, err := c.Read(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		rows := int64(0)
		for rr.Next() {
			rows += rr.RecordBatch().NumRows()
		}
		err = rr.Err()
		rr.Release()
		if !errors.Is(err, sdk.ErrUnsupportedType) || !strings.Contains(err.Error(), "row 150000") || rows != 149000 {
			t.Errorf("read %d rows, then %v; want 149000 rows, then an unsupported-type error naming row 150000", rows, err)
		}
		settled("after a failed read")
	})

	t.Run("bad query", func(t *testing.T) {
		bad := req
		bad.Where = "no_such_column > 0"
		rr, err := c.Read(context.Background(), bad)
		if err == nil {
			rr.Release()
			t.Fatal("Read of a bad query succeeded")
		}
		if !strings.Contains(err.Error(), "no_such_column") {
			t.Errorf("error %v does not name the column", err)
		}
		settled("after a failed Read")
	})
}

// A COPY small enough to end before Read looks at it has still sent its
// header: with both channels closed, select alone would pick either.
func TestHeaderSeenWhenCopyAlreadyEnded(t *testing.T) {
	closed := make(chan struct{})
	close(closed)
	open := make(chan struct{})
	for i := 0; i < 1000; i++ {
		if !headerSeen(closed, closed) {
			t.Fatal("a COPY that sent its header and ended was taken for one that ended before it")
		}
	}
	if !headerSeen(closed, open) || headerSeen(open, closed) {
		t.Fatal("headerSeen confuses a started COPY with one that ended without a header")
	}
}

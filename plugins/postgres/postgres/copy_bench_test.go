package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit"
)

// BenchmarkCopyLineitem reads a TPC-H-style lineitem table through COPY
// BINARY in-process and discards the batches: the plugin's side of a
// table read, without gRPC. HP_BENCH_PG_TABLE names an existing table
// (scripts/bench.sh loads hp_bench_lineitem); otherwise 200,000 rows are
// loaded (testkit.LineitemSQL) into a fresh table.
func BenchmarkCopyLineitem(b *testing.B) {
	table := os.Getenv("HP_BENCH_PG_TABLE")
	db := openDB(b)
	if table == "" {
		table = fmt.Sprintf("hp_bench_%d", time.Now().UnixNano())
		q, err := testkit.LineitemSQL("postgres", table, 200_000)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
		defer db.Exec("DROP TABLE " + table)
	}
	var want int64
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&want); err != nil {
		b.Fatal(err)
	}
	testkit.BenchRead(b, New(), sdk.ReadRequest{Conn: sdk.Connection{DSN: dsn()}, Source: sdk.Source{Object: &sdk.ObjectRef{Name: table}}}, want)
}

// BenchmarkRowDecoder decodes a lineitem COPY stream held in memory, in
// the writes the server sends (a row each): the decoder's own CPU, without
// the socket, pgx or the server.
func BenchmarkRowDecoder(b *testing.B) {
	table := fmt.Sprintf("hp_bench_%d", time.Now().UnixNano())
	q, err := testkit.LineitemSQL("postgres", table, 100_000)
	if err != nil {
		b.Fatal(err)
	}
	db := openDB(b)
	if _, err := db.Exec(q); err != nil {
		b.Fatal(err)
	}
	defer db.Exec("DROP TABLE " + table)
	stream := copyStream(b, "SELECT * FROM "+table)
	natives := []string{"bigint", "integer", "integer", "integer", "numeric(15,2)", "numeric(15,2)", "numeric(15,2)", "numeric(15,2)",
		"character(1)", "character(1)", "date", "date", "date", "character(25)", "character(10)", "character varying(44)"}
	fields := make([]arrow.Field, len(natives))
	decoders := make([]binDecoder, len(natives))
	for i, n := range natives {
		fields[i] = arrow.Field{Name: fmt.Sprint("c", i), Type: mapNative(b, n), Nullable: true}
		decoders[i] = binaryDecoder(n)
	}
	schema := arrow.NewSchema(fields, nil)
	// The rows' lengths, to write one at a time.
	header := 19 + int(binary.BigEndian.Uint32(stream[15:]))
	var rows []int
	for p := stream[header:]; len(p) > 2; {
		n := rowEnd(p, len(natives))
		rows = append(rows, n)
		p = p[n:]
	}
	for b.Loop() {
		d := newRowDecoder(context.Background(), schema, natives, decoders, 0, 0)
		go func() {
			for rec := range d.out {
				d.flight.Done(rec)
				rec.Release()
			}
		}()
		p := stream
		for i, n := range rows {
			if i == 0 {
				n += header
			}
			if _, err := d.Write(p[:n]); err != nil {
				b.Fatal(err)
			}
			p = p[n:]
		}
		if _, err := d.Write(p); err != nil {
			b.Fatal(err)
		}
		if err := d.finish(); err != nil {
			b.Fatal(err)
		}
		close(d.out)
		d.release()
	}
}

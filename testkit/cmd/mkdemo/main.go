// Command mkdemo creates the demo SQLite database used by `make demo`: a
// sample_data table of mixed types, deterministic, in one transaction.
package main

import (
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	_ "modernc.org/sqlite"
)

const ddl = `CREATE TABLE sample_data (
	id INTEGER NOT NULL PRIMARY KEY,
	name TEXT NOT NULL,
	amount DECIMAL TEXT(18,4),
	ratio REAL,
	created_at TIMESTAMP NOT NULL,
	birth_date DATE,
	active BOOLEAN NOT NULL,
	payload BLOB,
	notes TEXT
)`

var names = []string{"Ada Lovelace", "Grace Hopper", "José Martí", "Zoë \"Z\" Smith", "O'Brien, Pat", "李小龙", "Ångström", "multi\nline"}

func main() {
	out := flag.String("out", "demo/sample.db", "database file to create (replaced)")
	rows := flag.Int("rows", 300000, "rows in sample_data")
	flag.Parse()
	if err := run(*out, *rows); err != nil {
		fmt.Fprintln(os.Stderr, "mkdemo:", err)
		os.Exit(1)
	}
}

func run(path string, rows int) error {
	_ = os.Remove(path)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(off)&_pragma=synchronous(off)")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec(ddl); err != nil {
		return err
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	stmt, err := tx.Prepare("INSERT INTO sample_data VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(42, 7))
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= rows; i++ {
		var amount, ratio, birth, payload, notes any
		if i%17 != 0 {
			amount = fmt.Sprintf("%d.%04d", r.IntN(2_000_000)-1_000_000, r.IntN(10000))
			ratio = r.Float64()
			birth = start.AddDate(-20-r.IntN(60), 0, -r.IntN(365)).Format("2006-01-02")
			payload = []byte{byte(i), 0, byte(i >> 8), 0xff}
		}
		switch i % 5 {
		case 0:
			notes = nil
		case 1:
			notes = ""
		default:
			notes = fmt.Sprintf("note %d", i)
		}
		created := start.Add(time.Duration(i)*97*time.Second + time.Duration(r.IntN(1e6))*time.Microsecond)
		if _, err := stmt.Exec(i, names[i%len(names)], amount, ratio, created.Format("2006-01-02 15:04:05.000000"),
			birth, i%3 != 0, payload, notes); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	fmt.Printf("created %s: sample_data with %d rows\n", path, rows)
	return nil
}

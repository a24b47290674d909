package testkit

import "fmt"

// LineitemSQL returns SQL that (re)creates table (the benchmark's is
// hp_bench_lineitem) as a TPC-H-style lineitem of the given number of rows
// (bigint key, integers, four decimal(15,2), chars, three dates, a
// varchar), generated inside the server for "postgres" or "mysql"
// (MariaDB's sequence engine). The rows are the same on both.
func LineitemSQL(dialect, table string, rows int) (string, error) {
	switch dialect {
	case "postgres":
		return fmt.Sprintf(`drop table if exists %[1]s;
create table %[1]s as
select g::bigint as l_orderkey, (g %% 200000)::int as l_partkey, (g %% 10000)::int as l_suppkey, (g %% 7)::int as l_linenumber,
       ((g %% 50) + 1)::numeric(15,2) as l_quantity, ((g %% 100000) / 100.0 + 900)::numeric(15,2) as l_extendedprice,
       ((g %% 11) / 100.0)::numeric(15,2) as l_discount, ((g %% 9) / 100.0)::numeric(15,2) as l_tax,
       (array['A','N','R'])[g %% 3 + 1]::char(1) as l_returnflag, (array['F','O'])[g %% 2 + 1]::char(1) as l_linestatus,
       date '1992-01-01' + (g %% 2500) as l_shipdate, date '1992-01-31' + (g %% 2500) as l_commitdate,
       date '1992-01-15' + (g %% 2500) as l_receiptdate, 'DELIVER IN PERSON'::char(25) as l_shipinstruct,
       (array['AIR','MAIL','SHIP','TRUCK'])[g %% 4 + 1]::char(10) as l_shipmode,
       md5(g::text)::varchar(44) as l_comment
from generate_series(1, %[2]d) g;
alter table %[1]s add primary key (l_orderkey);
`, table, rows), nil
	case "mysql":
		return fmt.Sprintf(`drop table if exists %[1]s;
create table %[1]s (l_orderkey bigint not null primary key, l_partkey int, l_suppkey int, l_linenumber int,
	l_quantity decimal(15,2), l_extendedprice decimal(15,2), l_discount decimal(15,2), l_tax decimal(15,2),
	l_returnflag char(1), l_linestatus char(1), l_shipdate date, l_commitdate date, l_receiptdate date,
	l_shipinstruct char(25), l_shipmode char(10), l_comment varchar(44));
insert into %[1]s
select g, g %% 200000, g %% 10000, g %% 7, g %% 50 + 1, (g %% 100000) / 100.0 + 900, (g %% 11) / 100.0, (g %% 9) / 100.0,
       elt(g %% 3 + 1, 'A', 'N', 'R'), elt(g %% 2 + 1, 'F', 'O'), date '1992-01-01' + interval (g %% 2500) day,
       date '1992-01-31' + interval (g %% 2500) day, date '1992-01-15' + interval (g %% 2500) day,
       'DELIVER IN PERSON', elt(g %% 4 + 1, 'AIR', 'MAIL', 'SHIP', 'TRUCK'), md5(g)
from (select seq as g from seq_1_to_%[2]d) s;
`, table, rows), nil
	}
	return "", fmt.Errorf("no lineitem generator for %q (postgres, mysql)", dialect)
}

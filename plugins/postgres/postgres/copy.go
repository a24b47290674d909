package postgres

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/batch"
	"github.com/halfpipe-io/halfpipe/sdk/sqlsource"
)

// Connector is the PostgreSQL connector: the generic sqlsource connector,
// with table reads served by COPY ... TO STDOUT (FORMAT binary) decoded
// straight into Arrow builders.
type Connector struct {
	*sqlsource.Connector
}

// binDecoder appends one non-NULL binary COPY field.
type binDecoder func(b array.Builder, data []byte) error

// pgEpoch is 2000-01-01, the origin of PostgreSQL's binary dates and times.
const pgEpochDays = 10957

const pgEpochMicros = pgEpochDays * 86400 * 1_000_000

// binaryDecoder returns the decoder of a column's binary form, or nil when
// the type has none here (the read then falls back to the generic path).
func binaryDecoder(native string) binDecoder {
	t := strings.ToLower(native)
	if elem, ok := arrayElement(t); ok {
		if dec := binaryDecoder(elem); dec != nil {
			return decodeArray(dec)
		}
		return nil
	}
	if multiDimArray(t) {
		return nil
	}
	switch {
	case numericPS.MatchString(t):
		return decodeNumeric
	case t == "numeric":
		return decodeNumericText
	}
	switch t {
	case "smallint":
		return func(b array.Builder, d []byte) error {
			b.(*array.Int16Builder).Append(int16(binary.BigEndian.Uint16(d)))
			return nil
		}
	case "integer":
		return func(b array.Builder, d []byte) error {
			b.(*array.Int32Builder).Append(int32(binary.BigEndian.Uint32(d)))
			return nil
		}
	case "bigint":
		return func(b array.Builder, d []byte) error {
			b.(*array.Int64Builder).Append(int64(binary.BigEndian.Uint64(d)))
			return nil
		}
	case "real":
		return func(b array.Builder, d []byte) error {
			b.(*array.Float32Builder).Append(math.Float32frombits(binary.BigEndian.Uint32(d)))
			return nil
		}
	case "double precision":
		return func(b array.Builder, d []byte) error {
			b.(*array.Float64Builder).Append(math.Float64frombits(binary.BigEndian.Uint64(d)))
			return nil
		}
	case "boolean":
		return func(b array.Builder, d []byte) error { b.(*array.BooleanBuilder).Append(d[0] != 0); return nil }
	case "bytea":
		return func(b array.Builder, d []byte) error { b.(*array.BinaryBuilder).Append(d); return nil }
	case "text", "name", "json", "xml", "citext":
		return decodeText
	case "jsonb":
		return func(b array.Builder, d []byte) error {
			if len(d) == 0 || d[0] != 1 {
				return fmt.Errorf("unknown jsonb version")
			}
			b.(*array.StringBuilder).BinaryBuilder.Append(d[1:])
			return nil
		}
	case "uuid":
		return func(b array.Builder, d []byte) error {
			var s [36]byte
			hex.Encode(s[0:8], d[0:4])
			s[8] = '-'
			hex.Encode(s[9:13], d[4:6])
			s[13] = '-'
			hex.Encode(s[14:18], d[6:8])
			s[18] = '-'
			hex.Encode(s[19:23], d[8:10])
			s[23] = '-'
			hex.Encode(s[24:], d[10:16])
			b.(*array.StringBuilder).BinaryBuilder.Append(s[:])
			return nil
		}
	case "date":
		return decodeDate
	case "inet", "cidr":
		return decodeInet
	case "macaddr", "macaddr8":
		return decodeMAC
	}
	if strings.HasPrefix(t, "character varying") || strings.HasPrefix(t, "character(") || t == "character" {
		return decodeText
	}
	if strings.HasPrefix(t, "timestamp") {
		return decodeTimestamp
	}
	if strings.HasPrefix(t, "time") && !strings.Contains(t, "with time zone") {
		return decodeTime
	}
	if strings.HasPrefix(t, "interval") {
		return decodeInterval
	}
	return nil
}

func decodeText(b array.Builder, d []byte) error {
	b.(*array.StringBuilder).BinaryBuilder.Append(d)
	return nil
}

// numericParts reads PostgreSQL's binary numeric: base-10000 digits, the
// weight of the first, the sign and the display scale.
func numericParts(d []byte) (digits []uint16, weight int, sign uint16, err error) {
	if len(d) < 8 {
		return nil, 0, 0, fmt.Errorf("short numeric")
	}
	n := int(binary.BigEndian.Uint16(d))
	weight = int(int16(binary.BigEndian.Uint16(d[2:])))
	sign = binary.BigEndian.Uint16(d[4:])
	if len(d) < 8+2*n {
		return nil, 0, 0, fmt.Errorf("short numeric")
	}
	digits = make([]uint16, n)
	for i := range digits {
		digits[i] = binary.BigEndian.Uint16(d[8+2*i:])
	}
	switch sign {
	case 0x0000, 0x4000:
		return digits, weight, sign, nil
	case 0xC000:
		return nil, 0, 0, fmt.Errorf("numeric is NaN, which a decimal cannot hold")
	}
	return nil, 0, 0, fmt.Errorf("numeric is infinite, which a decimal cannot hold")
}

// numericUnscaled returns the value times 10^scale, exactly.
func numericUnscaled(d []byte, scale int32) (*big.Int, bool, error) {
	digits, weight, sign, err := numericParts(d)
	if err != nil {
		return nil, false, err
	}
	v := new(big.Int)
	base := big.NewInt(10000)
	for _, g := range digits {
		v.Mul(v, base).Add(v, big.NewInt(int64(g)))
	}
	// The last group's power of ten, then shifted by the scale.
	exp := 4*(weight-len(digits)+1) + int(scale)
	if exp >= 0 {
		v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil))
	} else {
		q, r := new(big.Int).QuoRem(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-exp)), nil), new(big.Int))
		if r.Sign() != 0 {
			return nil, false, fmt.Errorf("numeric has more decimals than the column's scale %d", scale)
		}
		v = q
	}
	return v, sign == 0x4000, nil
}

func decodeNumeric(b array.Builder, d []byte) error {
	switch db := b.(type) {
	case *array.Decimal128Builder:
		dt := db.Type().(*arrow.Decimal128Type)
		if n, ok := smallNumeric(d, dt.Scale); ok {
			db.Append(decimal128.FromI64(n))
			return nil
		}
		v, neg, err := numericUnscaled(d, dt.Scale)
		if err != nil {
			return err
		}
		if neg {
			v.Neg(v)
		}
		db.Append(decimal128.FromBigInt(v))
	case *array.Decimal256Builder:
		v, neg, err := numericUnscaled(d, db.Type().(*arrow.Decimal256Type).Scale)
		if err != nil {
			return err
		}
		if neg {
			v.Neg(v)
		}
		db.Append(decimal256.FromBigInt(v))
	default:
		return fmt.Errorf("numeric into %T", b)
	}
	return nil
}

// smallNumeric converts numerics of up to four base-10000 groups (16
// digits) without allocating.
func smallNumeric(d []byte, scale int32) (int64, bool) {
	if len(d) < 8 {
		return 0, false
	}
	n := int(binary.BigEndian.Uint16(d))
	weight := int(int16(binary.BigEndian.Uint16(d[2:])))
	sign := binary.BigEndian.Uint16(d[4:])
	if n > 4 || (sign != 0 && sign != 0x4000) || len(d) < 8+2*n {
		return 0, false
	}
	var v int64
	for i := 0; i < n; i++ {
		v = v*10000 + int64(binary.BigEndian.Uint16(d[8+2*i:]))
	}
	exp := 4*(weight-n+1) + int(scale)
	for ; exp > 0; exp-- {
		if v > math.MaxInt64/10 {
			return 0, false
		}
		v *= 10
	}
	for ; exp < 0; exp++ {
		if v%10 != 0 {
			return 0, false
		}
		v /= 10
	}
	if sign == 0x4000 {
		v = -v
	}
	return v, true
}

// decodeNumericText renders an unconstrained numeric exactly as text.
func decodeNumericText(b array.Builder, d []byte) error {
	if len(d) >= 8 {
		// Text holds what a decimal cannot, as the server prints it.
		switch binary.BigEndian.Uint16(d[4:]) {
		case 0xC000:
			b.(*array.StringBuilder).Append("NaN")
			return nil
		case 0xD000:
			b.(*array.StringBuilder).Append("Infinity")
			return nil
		case 0xF000:
			b.(*array.StringBuilder).Append("-Infinity")
			return nil
		}
	}
	digits, weight, sign, err := numericParts(d)
	if err != nil {
		return err
	}
	dscale := int(binary.BigEndian.Uint16(d[6:]))
	var s strings.Builder
	if sign == 0x4000 {
		s.WriteByte('-')
	}
	if weight < 0 {
		s.WriteByte('0')
	}
	for i := 0; i <= weight; i++ {
		g := 0
		if i < len(digits) {
			g = int(digits[i])
		}
		if i == 0 {
			s.WriteString(strconv.Itoa(g))
		} else {
			fmt.Fprintf(&s, "%04d", g)
		}
	}
	if dscale > 0 {
		var frac strings.Builder
		for i := weight + 1; frac.Len() < dscale; i++ {
			g := 0
			if i >= 0 && i < len(digits) {
				g = int(digits[i])
			}
			fmt.Fprintf(&frac, "%04d", g)
		}
		s.WriteByte('.')
		s.WriteString(frac.String()[:dscale])
	}
	b.(*array.StringBuilder).Append(s.String())
	return nil
}

// literal renders a filter value as a SQL literal: COPY takes no
// parameters. Every form is validated or escaped, so a value cannot carry
// SQL.
func literal(v *sdk.Value) (string, error) {
	switch v.Kind {
	case sdk.KindInt64:
		return strconv.FormatInt(v.Int, 10), nil
	case sdk.KindUint64:
		return strconv.FormatUint(v.Uint, 10), nil
	case sdk.KindFloat64:
		return "'" + strconv.FormatFloat(v.Float, 'g', -1, 64) + "'::float8", nil
	case sdk.KindDecimal:
		if _, err := sqlsource.ParseDecimal(v.Str, 1000); err != nil {
			return "", sdk.InvalidArgumentf("bound %q is not a decimal", v.Str)
		}
		return "'" + v.Str + "'::numeric", nil
	case sdk.KindString:
		return "'" + strings.ReplaceAll(v.Str, "'", "''") + "'", nil
	case sdk.KindTimestamp:
		return "'" + v.Time.UTC().Format("2006-01-02 15:04:05.999999") + "+00'::timestamptz", nil
	case sdk.KindDate:
		return "'" + time.Unix(v.Int*86400, 0).UTC().Format("2006-01-02") + "'::date", nil
	case sdk.KindBool:
		return strconv.FormatBool(v.Bool), nil
	}
	return "", sdk.InvalidArgumentf("bounds of kind %v are not supported", v.Kind)
}

// Read serves table reads with COPY BINARY when every column has a binary
// decoder here, and everything else through the generic reader.
func (c *Connector) Read(ctx context.Context, req sdk.ReadRequest) (array.RecordReader, error) {
	if req.Source.Object == nil {
		return c.Connector.Read(ctx, req)
	}
	desc, err := c.Connector.Describe(ctx, req.Conn, req.Source)
	if err != nil {
		return nil, err
	}
	idx := make([]int, 0, len(desc.Columns))
	if len(req.Columns) == 0 {
		for i := range desc.Columns {
			idx = append(idx, i)
		}
	} else {
		for _, n := range req.Columns {
			found := -1
			for i, col := range desc.Columns {
				if col.Name == n {
					found = i
				}
			}
			if found < 0 {
				return nil, sdk.NotFoundf("table %s has no column %q", req.Source, n)
			}
			idx = append(idx, found)
		}
	}
	fields := make([]arrow.Field, len(idx))
	decoders := make([]binDecoder, len(idx))
	quoted := make([]string, len(idx))
	natives := make([]string, len(idx))
	for k, i := range idx {
		fields[k] = desc.Schema.Field(i)
		natives[k] = desc.Columns[i].NativeType
		var cast string
		cast, decoders[k] = copyPlan(natives[k], fields[k].Type)
		if decoders[k] == nil {
			return c.Connector.Read(ctx, req)
		}
		quoted[k] = sqlsource.QuoteDouble(desc.Columns[i].Name) + cast
	}
	q, err := copySQL(req, quoted)
	if err != nil {
		return nil, err
	}
	return startCopy(ctx, req, arrow.NewSchema(fields, nil), natives, decoders, q)
}

// copyPlan returns how COPY selects a column (a cast to append to its
// name, or "") and the decoder of what it sends. Types read as text that
// have no binary decoder here are cast to text, arrays of them to text[],
// so a table read never leaves COPY; nil means the generic reader.
func copyPlan(native string, typ arrow.DataType) (string, binDecoder) {
	if dec := binaryDecoder(native); dec != nil {
		return "", dec
	}
	if lt, ok := typ.(*arrow.ListType); ok && lt.Elem().ID() == arrow.STRING {
		if _, ok := arrayElement(strings.ToLower(native)); ok {
			return "::text[]", decodeArray(decodeText)
		}
	}
	if typ.ID() == arrow.STRING {
		return "::text", decodeText
	}
	return "", nil
}

func copySQL(req sdk.ReadRequest, cols []string) (string, error) {
	ref := *req.Source.Object
	from := sqlsource.QuoteDouble(ref.Name)
	if ref.Schema != "" {
		from = sqlsource.QuoteDouble(ref.Schema) + "." + from
	}
	var conds []string
	if req.Where != "" {
		conds = append(conds, "("+req.Where+")")
	}
	if r := req.Range; r != nil {
		col := sqlsource.QuoteDouble(r.Column)
		if r.Lower != nil {
			lit, err := literal(r.Lower)
			if err != nil {
				return "", err
			}
			op := ">"
			if r.LowerInclusive {
				op = ">="
			}
			conds = append(conds, col+" "+op+" "+lit)
		}
		if r.Upper != nil {
			lit, err := literal(r.Upper)
			if err != nil {
				return "", err
			}
			op := "<"
			if r.UpperInclusive {
				op = "<="
			}
			conds = append(conds, col+" "+op+" "+lit)
		}
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + from
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	if len(req.OrderBy) > 0 {
		parts := make([]string, len(req.OrderBy))
		for i, o := range req.OrderBy {
			parts[i] = sqlsource.QuoteDouble(o.Column)
			if o.Descending {
				parts[i] += " DESC"
			}
		}
		q += " ORDER BY " + strings.Join(parts, ", ")
	}
	return "COPY (" + q + ") TO STDOUT (FORMAT binary)", nil
}

var copySignature = []byte("PGCOPY\n\xff\r\n\x00")

// startCopy runs COPY on its own connection, streaming into a pipe that
// the returned reader decodes.
func startCopy(ctx context.Context, req sdk.ReadRequest, schema *arrow.Schema, natives []string, decoders []binDecoder, q string) (array.RecordReader, error) {
	ctx, cancel := context.WithCancel(ctx)
	pc, err := pgconn.Connect(ctx, req.Conn.DSN)
	if err != nil {
		cancel()
		if te := tlsError(err, req.Conn.DSN); te != nil {
			return nil, te
		}
		err = dialect.Classify(err)
		return nil, &maskedError{msg: sdk.MaskIn(err.Error(), req.Conn.DSN), err: err}
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		// The server sends one CopyData message per row: buffer them so the
		// pipe hands over megabytes, not rows.
		bw := bufio.NewWriterSize(pw, 1<<20)
		_, err := pc.CopyTo(ctx, bw, q)
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			err = dialect.Classify(err)
		}
		pw.CloseWithError(err)
		done <- err
	}()
	br := bufio.NewReaderSize(pr, 1<<20)
	// Read the header here, so that a bad query fails Read itself.
	header := make([]byte, 19)
	if _, err := io.ReadFull(br, header); err != nil || string(header[:11]) != string(copySignature) {
		cancel()
		pr.Close()
		cerr := <-done
		pc.Close(context.Background())
		if cerr != nil {
			return nil, cerr
		}
		return nil, fmt.Errorf("COPY did not start: %v", err)
	}
	if ext := binary.BigEndian.Uint32(header[15:]); ext > 0 {
		if _, err := br.Discard(int(ext)); err != nil {
			cancel()
			return nil, err
		}
	}
	var row int64
	lenBuf := make([]byte, 4)
	field := make([]byte, 0, 256)
	maxBytes := req.BatchMaxBytes
	if maxBytes <= 0 {
		maxBytes = batch.DefaultMaxBytes
	}
	fill := func(b *batch.Builder) (bool, error) {
		builders := b.Fields()
		// The builder estimates its size only every few dozen rows: count
		// the bytes here too, so that a batch of huge rows ends at the
		// first row over the budget.
		var size int64
		for {
			if row&1023 == 0 && ctx.Err() != nil {
				return false, ctx.Err()
			}
			if _, err := io.ReadFull(br, lenBuf[:2]); err != nil {
				return false, copyErr(err, done)
			}
			count := int16(binary.BigEndian.Uint16(lenBuf[:2]))
			if count == -1 {
				return true, nil
			}
			if int(count) != len(decoders) {
				return false, fmt.Errorf("COPY row has %d fields, expected %d", count, len(decoders))
			}
			row++
			for i, dec := range decoders {
				if _, err := io.ReadFull(br, lenBuf); err != nil {
					return false, copyErr(err, done)
				}
				n := int32(binary.BigEndian.Uint32(lenBuf))
				if n < 0 {
					builders[i].AppendNull()
					continue
				}
				if cap(field) < int(n) {
					field = make([]byte, n)
				}
				field = field[:n]
				if _, err := io.ReadFull(br, field); err != nil {
					return false, copyErr(err, done)
				}
				size += int64(n)
				if err := dec(builders[i], field); err != nil {
					return false, fmt.Errorf("row %d, column %q (%s): %w", row, schema.Field(i).Name, natives[i], err)
				}
			}
			if b.RowDone() || size >= maxBytes {
				return false, nil
			}
		}
	}
	release := func() {
		cancel()
		pr.Close()
		<-done
		pc.Close(context.Background())
	}
	return batch.NewReader(schema, fill, release, batch.WithMaxRows(req.BatchMaxRows), batch.WithMaxBytes(req.BatchMaxBytes)), nil
}

// maskedError hides a secret the driver echoed, keeping the error's kind.
type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }

// copyErr prefers the server's error over the pipe's.
func copyErr(err error, done chan error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		select {
		case cerr := <-done:
			done <- cerr
			if cerr != nil {
				return cerr
			}
		default:
		}
	}
	return err
}

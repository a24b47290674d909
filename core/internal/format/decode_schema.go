package format

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// SchemaSyntax is the form ParseSchema reads, for help texts and errors.
const SchemaSyntax = "name:type,... with types bool, int8..int64, uint8..uint64, float32, float64, utf8 (string), binary, " +
	"date32 (date), time64[us|ns], timestamp[s|ms|us|ns] or timestamp[unit,ZONE], decimal(precision,scale)"

var (
	decimalType = regexp.MustCompile(`^decimal(?:128|256)?\(\s*(\d+)\s*,\s*(\d+)\s*\)$`)
	unitType    = regexp.MustCompile(`(?i)^(timestamp|time64|time32)\[\s*(s|ms|us|ns)\s*(?:,\s*(?:tz=)?([^\]]*?)\s*)?\]$`)
	offsetZone  = regexp.MustCompile(`^[+-]\d\d:\d\d$`)
)

// ParseSchema reads a schema written as name:type pairs separated by
// commas, e.g. "id:int64,name:utf8,amount:decimal(18,2),ts:timestamp[us,UTC]".
// Every column is nullable. A name is what precedes the first ':'.
func ParseSchema(s string) (*arrow.Schema, error) {
	var fields []arrow.Field
	seen := map[string]bool{}
	for _, col := range splitTopLevel(s) {
		name, typ, ok := strings.Cut(col, ":")
		name, typ = strings.TrimSpace(name), strings.TrimSpace(typ)
		if !ok || name == "" || typ == "" {
			return nil, fmt.Errorf("schema column %q is not name:type (%s)", strings.TrimSpace(col), SchemaSyntax)
		}
		if seen[name] {
			return nil, fmt.Errorf("schema names column %q twice", name)
		}
		seen[name] = true
		t, err := ParseType(typ)
		if err != nil {
			return nil, fmt.Errorf("schema column %q: %w", name, err)
		}
		fields = append(fields, arrow.Field{Name: name, Type: t, Nullable: true})
	}
	if len(fields) == 0 {
		return nil, fmt.Errorf("empty schema (%s)", SchemaSyntax)
	}
	return arrow.NewSchema(fields, nil), nil
}

// splitTopLevel splits at the commas outside parentheses and brackets.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if strings.TrimSpace(s[start:]) != "" || len(out) > 0 {
		out = append(out, s[start:])
	}
	return out
}

// ParseType reads one type name of SchemaSyntax.
func ParseType(s string) (arrow.DataType, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	switch t {
	case "bool", "boolean":
		return arrow.FixedWidthTypes.Boolean, nil
	case "int8":
		return arrow.PrimitiveTypes.Int8, nil
	case "int16":
		return arrow.PrimitiveTypes.Int16, nil
	case "int32":
		return arrow.PrimitiveTypes.Int32, nil
	case "int64":
		return arrow.PrimitiveTypes.Int64, nil
	case "uint8":
		return arrow.PrimitiveTypes.Uint8, nil
	case "uint16":
		return arrow.PrimitiveTypes.Uint16, nil
	case "uint32":
		return arrow.PrimitiveTypes.Uint32, nil
	case "uint64":
		return arrow.PrimitiveTypes.Uint64, nil
	case "float32":
		return arrow.PrimitiveTypes.Float32, nil
	case "float64", "double":
		return arrow.PrimitiveTypes.Float64, nil
	case "utf8", "string":
		return arrow.BinaryTypes.String, nil
	case "binary":
		return arrow.BinaryTypes.Binary, nil
	case "date32", "date":
		return arrow.FixedWidthTypes.Date32, nil
	}
	if m := decimalType.FindStringSubmatch(t); m != nil {
		p, err1 := strconv.Atoi(m[1])
		sc, err2 := strconv.Atoi(m[2])
		switch {
		case err1 != nil || err2 != nil || p < 1 || p > 76:
			return nil, fmt.Errorf("%q: the precision is 1 to 76", s)
		case sc > p:
			return nil, fmt.Errorf("%q: the scale is at most the precision", s)
		case p > 38:
			return &arrow.Decimal256Type{Precision: int32(p), Scale: int32(sc)}, nil
		}
		return &arrow.Decimal128Type{Precision: int32(p), Scale: int32(sc)}, nil
	}
	// The zone keeps its case: zone names are case-sensitive.
	if m := unitType.FindStringSubmatch(strings.TrimSpace(s)); m != nil {
		unit := map[string]arrow.TimeUnit{"s": arrow.Second, "ms": arrow.Millisecond, "us": arrow.Microsecond, "ns": arrow.Nanosecond}[strings.ToLower(m[2])]
		zone := m[3]
		switch strings.ToLower(m[1]) {
		case "timestamp":
			if err := checkZone(zone); err != nil {
				return nil, fmt.Errorf("%q: %w", s, err)
			}
			return &arrow.TimestampType{Unit: unit, TimeZone: zone}, nil
		case "time64":
			if zone == "" && unit >= arrow.Microsecond {
				return &arrow.Time64Type{Unit: unit}, nil
			}
		case "time32":
			if zone == "" && unit <= arrow.Millisecond {
				return &arrow.Time32Type{Unit: unit}, nil
			}
		}
		return nil, fmt.Errorf("%q: time64 takes us or ns, time32 s or ms, neither a zone", s)
	}
	if t == "timestamp" || t == "time" || strings.HasPrefix(t, "decimal") {
		return nil, fmt.Errorf("%q needs its parameters: timestamp[us] or timestamp[us,UTC], time64[us], decimal(18,2)", s)
	}
	return nil, fmt.Errorf("unknown type %q (%s)", s, SchemaSyntax)
}

// checkZone accepts UTC, ±HH:MM and the IANA names the system knows.
func checkZone(z string) error {
	if z == "" || z == "UTC" || offsetZone.MatchString(z) {
		return nil
	}
	if _, err := time.LoadLocation(z); err != nil {
		return fmt.Errorf("unknown time zone %q (UTC, ±HH:MM or an IANA name)", z)
	}
	return nil
}

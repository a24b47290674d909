package sdk

import (
	"time"

	pb "github.com/halfpipe-io/halfpipe/sdk/internal/proto/connectorv1"
)

var capToProto = map[Capability]pb.Capability{
	CapCheck:             pb.Capability_CAPABILITY_CHECK,
	CapListObjects:       pb.Capability_CAPABILITY_LIST_OBJECTS,
	CapDescribe:          pb.Capability_CAPABILITY_DESCRIBE,
	CapRead:              pb.Capability_CAPABILITY_READ,
	CapBounds:            pb.Capability_CAPABILITY_BOUNDS,
	CapWrite:             pb.Capability_CAPABILITY_WRITE,
	CapLoad:              pb.Capability_CAPABILITY_LOAD,
	CapExec:              pb.Capability_CAPABILITY_EXEC,
	CapReadPartitions:    pb.Capability_CAPABILITY_READ_PARTITIONS,
	CapReadQuery:         pb.Capability_CAPABILITY_READ_QUERY,
	CapPlanTable:         pb.Capability_CAPABILITY_PLAN_TABLE,
	CapWriteSync:         pb.Capability_CAPABILITY_WRITE_SYNC,
	CapChecksumRanges:    pb.Capability_CAPABILITY_CHECKSUM_RANGES,
	CapCheckLoad:         pb.Capability_CAPABILITY_CHECK_LOAD,
	CapMaintainChecksums: pb.Capability_CAPABILITY_MAINTAIN_CHECKSUMS,
	CapWriteAbort:        pb.Capability_CAPABILITY_WRITE_ABORT,
}

// CapabilitiesOf derives a connector's capabilities from the interfaces it
// implements plus the features its Info declares.
func CapabilitiesOf(c Connector) []Capability {
	caps := []Capability{CapCheck}
	add := func(ok bool, cp Capability) {
		if ok {
			caps = append(caps, cp)
		}
	}
	_, ok := c.(ObjectLister)
	add(ok, CapListObjects)
	_, ok = c.(Describer)
	add(ok, CapDescribe)
	_, ok = c.(Reader)
	add(ok, CapRead)
	_, ok = c.(Bounder)
	add(ok, CapBounds)
	_, ok = c.(Writer)
	add(ok, CapWrite)
	_, ok = c.(Loader)
	add(ok, CapLoad)
	if ok {
		_, ok = c.(LoadChecker)
		add(ok, CapCheckLoad)
	}
	_, ok = c.(Executor)
	add(ok, CapExec)
	_, ok = c.(TablePlanner)
	add(ok, CapPlanTable)
	_, ok = c.(Syncer)
	add(ok, CapWriteSync)
	_, w := c.(Writer)
	add(ok || w, CapWriteAbort)
	for _, f := range c.Info().Features {
		if f == CapReadPartitions || f == CapReadQuery {
			caps = append(caps, f)
		}
		if _, ok := c.(RangeChecksummer); ok && f == CapChecksumRanges {
			caps = append(caps, f)
		}
		if _, ok := c.(ChecksumMaintainer); ok && f == CapMaintainChecksums {
			caps = append(caps, f)
		}
	}
	return caps
}

func infoToProto(i Info) *pb.GetInfoResponse {
	r := &pb.GetInfoResponse{
		Name: i.Name, Version: i.Version, ProtocolVersion: uint32(i.ProtocolVersion),
		Schemes: i.Schemes, Description: i.Description, DsnFormat: i.DSNFormat,
		DsnExample: i.DSNExample, Limits: i.Limits, Env: i.Env,
	}
	for _, c := range i.Capabilities {
		if p, ok := capToProto[c]; ok {
			r.Capabilities = append(r.Capabilities, p)
		}
	}
	for _, o := range i.Options {
		r.Options = append(r.Options, &pb.OptionSpec{Name: o.Name, Type: o.Type, DefaultValue: o.Default, Description: o.Description, Required: o.Required, Secret: o.Secret})
	}
	for _, t := range i.TypeMappings {
		r.TypeMappings = append(r.TypeMappings, &pb.TypeMapping{NativeType: t.NativeType, ArrowType: t.ArrowType, Notes: t.Notes})
	}
	return r
}

func connFromProto(c *pb.Connection) Connection {
	return Connection{DSN: c.GetDsn(), Options: c.GetOptions()}
}

func refToProto(r ObjectRef) *pb.ObjectRef { return &pb.ObjectRef{Schema: r.Schema, Name: r.Name} }

func refFromProto(r *pb.ObjectRef) ObjectRef {
	return ObjectRef{Schema: r.GetSchema(), Name: r.GetName()}
}

func sourceFromProto(s *pb.Source) (Source, error) {
	switch k := s.GetKind().(type) {
	case *pb.Source_Object:
		ref := refFromProto(k.Object)
		return Source{Object: &ref}, nil
	case *pb.Source_Query:
		return Source{Query: k.Query}, nil
	}
	return Source{}, InvalidArgumentf("request names neither an object nor a query")
}

func valueToProto(v *Value) *pb.Value {
	if v == nil {
		return nil
	}
	switch v.Kind {
	case KindInt64:
		return &pb.Value{Kind: &pb.Value_Int64Value{Int64Value: v.Int}}
	case KindUint64:
		return &pb.Value{Kind: &pb.Value_Uint64Value{Uint64Value: v.Uint}}
	case KindFloat64:
		return &pb.Value{Kind: &pb.Value_Float64Value{Float64Value: v.Float}}
	case KindString:
		return &pb.Value{Kind: &pb.Value_StringValue{StringValue: v.Str}}
	case KindBytes:
		return &pb.Value{Kind: &pb.Value_BytesValue{BytesValue: v.Bytes}}
	case KindBool:
		return &pb.Value{Kind: &pb.Value_BoolValue{BoolValue: v.Bool}}
	case KindDecimal:
		return &pb.Value{Kind: &pb.Value_DecimalValue{DecimalValue: v.Str}}
	case KindTimestamp:
		return &pb.Value{Kind: &pb.Value_TimestampValue{TimestampValue: &pb.Timestamp{Seconds: v.Time.Unix(), Nanos: int32(v.Time.Nanosecond())}}}
	case KindDate:
		return &pb.Value{Kind: &pb.Value_DateValue{DateValue: int32(v.Int)}}
	}
	return nil
}

func valueFromProto(p *pb.Value) *Value {
	if p == nil || p.GetKind() == nil {
		return nil
	}
	switch k := p.GetKind().(type) {
	case *pb.Value_Int64Value:
		return &Value{Kind: KindInt64, Int: k.Int64Value}
	case *pb.Value_Uint64Value:
		return &Value{Kind: KindUint64, Uint: k.Uint64Value}
	case *pb.Value_Float64Value:
		return &Value{Kind: KindFloat64, Float: k.Float64Value}
	case *pb.Value_StringValue:
		return &Value{Kind: KindString, Str: k.StringValue}
	case *pb.Value_BytesValue:
		return &Value{Kind: KindBytes, Bytes: k.BytesValue}
	case *pb.Value_BoolValue:
		return &Value{Kind: KindBool, Bool: k.BoolValue}
	case *pb.Value_DecimalValue:
		return &Value{Kind: KindDecimal, Str: k.DecimalValue}
	case *pb.Value_TimestampValue:
		return &Value{Kind: KindTimestamp, Time: time.Unix(k.TimestampValue.GetSeconds(), int64(k.TimestampValue.GetNanos())).UTC()}
	case *pb.Value_DateValue:
		return &Value{Kind: KindDate, Int: int64(k.DateValue)}
	}
	return nil
}

func rangeFromProto(r *pb.RangeFilter) *RangeFilter {
	if r == nil || r.GetColumn() == "" {
		return nil
	}
	return &RangeFilter{Column: r.GetColumn(), Lower: valueFromProto(r.GetLower()), LowerInclusive: r.GetLowerInclusive(), Upper: valueFromProto(r.GetUpper()), UpperInclusive: r.GetUpperInclusive(), Spans: spansFromProto(r.GetSpans())}
}

func spansFromProto(spans []*pb.KeySpan) []KeySpan {
	if len(spans) == 0 {
		return nil
	}
	out := make([]KeySpan, len(spans))
	for i, s := range spans {
		out[i] = KeySpan{Lower: s.GetLower(), Upper: s.GetUpper()}
	}
	return out
}

// checkSpans refuses spans a connector would not honour, and spans out of
// order.
func checkSpans(c Connector, spans []KeySpan) error {
	if len(spans) == 0 {
		return nil
	}
	if !hasFeature(c, CapChecksumRanges) {
		return InvalidArgumentf("the %s connector cannot restrict a read to key spans", c.Info().Name)
	}
	for i, s := range spans {
		if s.Lower > s.Upper || i > 0 && spans[i-1].Upper >= s.Lower {
			return InvalidArgumentf("key spans must be ascending and disjoint, each lower <= upper: span %d is [%d, %d]", i, s.Lower, s.Upper)
		}
	}
	return nil
}

func modeFromProto(m pb.WriteMode) (WriteMode, error) {
	switch m {
	case pb.WriteMode_WRITE_MODE_APPEND:
		return Append, nil
	case pb.WriteMode_WRITE_MODE_REPLACE:
		return Replace, nil
	case pb.WriteMode_WRITE_MODE_MERGE:
		return Merge, nil
	case pb.WriteMode_WRITE_MODE_SYNC:
		return Sync, nil
	}
	return "", InvalidArgumentf("write mode %v is not supported", m)
}

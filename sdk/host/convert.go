package host

import (
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
	pb "github.com/halfpipe-io/halfpipe/sdk/internal/proto/connectorv1"
)

// The host's half of the conversions between sdk types and protocol
// messages; the plugin's half is in package sdk. Each side converts the
// messages it sends to proto and those it receives from proto, so only
// the small types that travel both ways (values, object references) are
// converted in both packages, and TestValueKindsRoundTrip in package sdk
// crosses the two.

var capFromProto = map[pb.Capability]sdk.Capability{
	pb.Capability_CAPABILITY_CHECK:              sdk.CapCheck,
	pb.Capability_CAPABILITY_LIST_OBJECTS:       sdk.CapListObjects,
	pb.Capability_CAPABILITY_DESCRIBE:           sdk.CapDescribe,
	pb.Capability_CAPABILITY_READ:               sdk.CapRead,
	pb.Capability_CAPABILITY_BOUNDS:             sdk.CapBounds,
	pb.Capability_CAPABILITY_WRITE:              sdk.CapWrite,
	pb.Capability_CAPABILITY_LOAD:               sdk.CapLoad,
	pb.Capability_CAPABILITY_EXEC:               sdk.CapExec,
	pb.Capability_CAPABILITY_READ_PARTITIONS:    sdk.CapReadPartitions,
	pb.Capability_CAPABILITY_READ_QUERY:         sdk.CapReadQuery,
	pb.Capability_CAPABILITY_PLAN_TABLE:         sdk.CapPlanTable,
	pb.Capability_CAPABILITY_WRITE_SYNC:         sdk.CapWriteSync,
	pb.Capability_CAPABILITY_CHECKSUM_RANGES:    sdk.CapChecksumRanges,
	pb.Capability_CAPABILITY_CHECK_LOAD:         sdk.CapCheckLoad,
	pb.Capability_CAPABILITY_MAINTAIN_CHECKSUMS: sdk.CapMaintainChecksums,
	pb.Capability_CAPABILITY_WRITE_ABORT:        sdk.CapWriteAbort,
}

func infoFromProto(r *pb.GetInfoResponse) sdk.Info {
	i := sdk.Info{
		Name: r.GetName(), Version: r.GetVersion(), ProtocolVersion: int(r.GetProtocolVersion()),
		Schemes: r.GetSchemes(), Description: r.GetDescription(), DSNFormat: r.GetDsnFormat(),
		DSNExample: r.GetDsnExample(), Limits: r.GetLimits(), Env: r.GetEnv(),
	}
	// Unknown capabilities (from a newer plugin) are absent, as the
	// protocol's versioning rules require.
	for _, c := range r.GetCapabilities() {
		if k, ok := capFromProto[c]; ok {
			i.Capabilities = append(i.Capabilities, k)
		}
	}
	for _, o := range r.GetOptions() {
		i.Options = append(i.Options, sdk.OptionSpec{Name: o.GetName(), Type: o.GetType(), Default: o.GetDefaultValue(), Description: o.GetDescription(), Required: o.GetRequired(), Secret: o.GetSecret()})
	}
	for _, t := range r.GetTypeMappings() {
		i.TypeMappings = append(i.TypeMappings, sdk.TypeMapping{NativeType: t.GetNativeType(), ArrowType: t.GetArrowType(), Notes: t.GetNotes()})
	}
	return i
}

func connToProto(c sdk.Connection) *pb.Connection {
	return &pb.Connection{Dsn: c.DSN, Options: c.Options}
}

func refToProto(r sdk.ObjectRef) *pb.ObjectRef { return &pb.ObjectRef{Schema: r.Schema, Name: r.Name} }

func refFromProto(r *pb.ObjectRef) sdk.ObjectRef {
	return sdk.ObjectRef{Schema: r.GetSchema(), Name: r.GetName()}
}

func sourceToProto(s sdk.Source) *pb.Source {
	if s.Object != nil {
		return &pb.Source{Kind: &pb.Source_Object{Object: refToProto(*s.Object)}}
	}
	return &pb.Source{Kind: &pb.Source_Query{Query: s.Query}}
}

func valueToProto(v *sdk.Value) *pb.Value {
	if v == nil {
		return nil
	}
	switch v.Kind {
	case sdk.KindInt64:
		return &pb.Value{Kind: &pb.Value_Int64Value{Int64Value: v.Int}}
	case sdk.KindUint64:
		return &pb.Value{Kind: &pb.Value_Uint64Value{Uint64Value: v.Uint}}
	case sdk.KindFloat64:
		return &pb.Value{Kind: &pb.Value_Float64Value{Float64Value: v.Float}}
	case sdk.KindString:
		return &pb.Value{Kind: &pb.Value_StringValue{StringValue: v.Str}}
	case sdk.KindBytes:
		return &pb.Value{Kind: &pb.Value_BytesValue{BytesValue: v.Bytes}}
	case sdk.KindBool:
		return &pb.Value{Kind: &pb.Value_BoolValue{BoolValue: v.Bool}}
	case sdk.KindDecimal:
		return &pb.Value{Kind: &pb.Value_DecimalValue{DecimalValue: v.Str}}
	case sdk.KindTimestamp:
		return &pb.Value{Kind: &pb.Value_TimestampValue{TimestampValue: &pb.Timestamp{Seconds: v.Time.Unix(), Nanos: int32(v.Time.Nanosecond())}}}
	case sdk.KindDate:
		return &pb.Value{Kind: &pb.Value_DateValue{DateValue: int32(v.Int)}}
	}
	return nil
}

func valueFromProto(p *pb.Value) *sdk.Value {
	if p == nil || p.GetKind() == nil {
		return nil
	}
	switch k := p.GetKind().(type) {
	case *pb.Value_Int64Value:
		return &sdk.Value{Kind: sdk.KindInt64, Int: k.Int64Value}
	case *pb.Value_Uint64Value:
		return &sdk.Value{Kind: sdk.KindUint64, Uint: k.Uint64Value}
	case *pb.Value_Float64Value:
		return &sdk.Value{Kind: sdk.KindFloat64, Float: k.Float64Value}
	case *pb.Value_StringValue:
		return &sdk.Value{Kind: sdk.KindString, Str: k.StringValue}
	case *pb.Value_BytesValue:
		return &sdk.Value{Kind: sdk.KindBytes, Bytes: k.BytesValue}
	case *pb.Value_BoolValue:
		return &sdk.Value{Kind: sdk.KindBool, Bool: k.BoolValue}
	case *pb.Value_DecimalValue:
		return &sdk.Value{Kind: sdk.KindDecimal, Str: k.DecimalValue}
	case *pb.Value_TimestampValue:
		return &sdk.Value{Kind: sdk.KindTimestamp, Time: time.Unix(k.TimestampValue.GetSeconds(), int64(k.TimestampValue.GetNanos())).UTC()}
	case *pb.Value_DateValue:
		return &sdk.Value{Kind: sdk.KindDate, Int: int64(k.DateValue)}
	}
	return nil
}

func rangeToProto(r *sdk.RangeFilter) *pb.RangeFilter {
	if r == nil {
		return nil
	}
	return &pb.RangeFilter{Column: r.Column, Lower: valueToProto(r.Lower), LowerInclusive: r.LowerInclusive, Upper: valueToProto(r.Upper), UpperInclusive: r.UpperInclusive, Spans: spansToProto(r.Spans)}
}

func spansToProto(spans []sdk.KeySpan) []*pb.KeySpan {
	out := make([]*pb.KeySpan, len(spans))
	for i, s := range spans {
		out[i] = &pb.KeySpan{Lower: s.Lower, Upper: s.Upper}
	}
	return out
}

func modeToProto(m sdk.WriteMode) pb.WriteMode {
	switch m {
	case sdk.Append:
		return pb.WriteMode_WRITE_MODE_APPEND
	case sdk.Replace:
		return pb.WriteMode_WRITE_MODE_REPLACE
	case sdk.Merge:
		return pb.WriteMode_WRITE_MODE_MERGE
	case sdk.Sync:
		return pb.WriteMode_WRITE_MODE_SYNC
	}
	return pb.WriteMode_WRITE_MODE_UNSPECIFIED
}

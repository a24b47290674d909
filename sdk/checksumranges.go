package sdk

import (
	"context"

	pb "github.com/halfpipe-io/halfpipe/sdk/internal/proto/connectorv1"
)

// RangeChecksummer is implemented by SQL connectors that compute checksums
// of key ranges in the database, so that hp diff --hash fetches only the
// ranges whose checksums differ. A connector declares it by listing
// [CapChecksumRanges] in [Info.Features] too.
//
// Two databases holding the same rows must return the same checksums, so
// every connector hashes the same canonical text of a row: for each
// column in [ChecksumRangesRequest.Columns], in order, "N" for NULL, else
// the value's canonical text, the columns joined by ",". The canonical
// text of a text value has its number of characters and ":" in front
// (only text can hold "," or be "N"; the others cannot, so the row's text
// reads back one way only). Canonical texts:
//   - integers and decimals: plain decimal notation, "-" for negatives,
//     no trailing fractional zeros and no point without fraction
//     ("12.5", "100", "0"), so 1.50 and 1.5 agree as hp diff says;
//   - booleans: "1" and "0";
//   - text: the UTF-8 text itself;
//   - binary: lowercase hexadecimal;
//   - dates: "YYYY-MM-DD";
//   - timestamps: the UTC instant (a column without a zone is read as
//     UTC wall time) as "YYYY-MM-DD HH:MM:SS.ffffff" (microseconds).
//
// A row's hash is the integer of the first 15 hexadecimal digits of the
// MD5 of its canonical text; a range's checksum is the sum of its rows'
// hashes, in decimal. A [ChecksumMaintainer] may sum hashes it keeps
// instead of computing them, and says so in the result. A column of any other type (floats, whose text
// differs between databases, JSON, intervals, ...) is an error wrapping
// ErrUnsupportedType that names it.
type RangeChecksummer interface {
	ChecksumRanges(ctx context.Context, req ChecksumRangesRequest) (*ChecksumRangesResult, error)
}

// ChecksumRangesResult holds the ranges that hold rows, in ascending
// index.
type ChecksumRangesResult struct {
	Ranges []RangeChecksum
	// Maintained: the checksums were summed from the hashes the database
	// maintains ([ChecksumMaintainer]), not computed from the rows.
	Maintained bool
	// Note says why maintained checksums that are installed were not used.
	Note string
}

// ChecksumRangesRequest asks for the checksums of the rows of Table whose
// Key lies in [Lower, Upper], in ranges of Width key values: range i
// holds Lower + i*Width <= Key < Lower + (i+1)*Width.
type ChecksumRangesRequest struct {
	Conn  Connection
	Table ObjectRef
	// Columns are hashed in this order.
	Columns []string
	// Where is a raw predicate in the source's dialect, ANDed with the
	// range.
	Where string
	// Key is an integer column.
	Key          string
	Lower, Upper int64
	// Width is at least 1.
	Width int64
	// Spans, when not empty, keep only the rows whose Key lies in one of
	// them too (ascending, disjoint): a finer width within the ranges that
	// differed at a coarser one.
	Spans []KeySpan
}

// RangeChecksum is one range that holds rows.
type RangeChecksum struct {
	Index int64
	Rows  int64
	// Checksum is the sum of the rows' hashes in decimal.
	Checksum string
}

func (s *server) ChecksumRanges(ctx context.Context, req *pb.ChecksumRangesRequest) (_ *pb.ChecksumRangesResponse, err error) {
	defer maskStatus(&err, req.GetConnection().GetDsn())
	defer guard(&err, req.GetConnection().GetDsn())
	c, ok := s.c.(RangeChecksummer)
	if !ok || !hasFeature(s.c, CapChecksumRanges) {
		return nil, unimplemented("checksums of key ranges")
	}
	if req.GetWidth() < 1 || req.GetLower() > req.GetUpper() || req.GetKey() == "" || len(req.GetColumns()) == 0 {
		return nil, toStatus(InvalidArgumentf("checksum ranges need a key, columns, lower <= upper and a width of at least 1"))
	}
	spans := spansFromProto(req.GetSpans())
	if err := checkSpans(s.c, spans); err != nil {
		return nil, toStatus(err)
	}
	res, err := c.ChecksumRanges(ctx, ChecksumRangesRequest{
		Conn: connFromProto(req.GetConnection()), Table: refFromProto(req.GetTable()), Columns: req.GetColumns(),
		Where: req.GetWhere(), Key: req.GetKey(), Lower: req.GetLower(), Upper: req.GetUpper(), Width: req.GetWidth(),
		Spans: spans,
	})
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.ChecksumRangesResponse{Ranges: make([]*pb.RangeChecksum, len(res.Ranges)), Maintained: res.Maintained, Note: res.Note}
	for i, r := range res.Ranges {
		resp.Ranges[i] = &pb.RangeChecksum{Index: r.Index, Rows: r.Rows, Checksum: r.Checksum}
	}
	return resp, nil
}

func hasFeature(c Connector, cp Capability) bool {
	for _, f := range c.Info().Features {
		if f == cp {
			return true
		}
	}
	return false
}

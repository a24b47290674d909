package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/sdk/plugintest"
)

// summer answers ChecksumRanges with the request echoed in its ranges;
// declared says whether its Info lists the capability.
type summer struct {
	memConnector
	declared bool
}

func (s *summer) Info() sdk.Info {
	i := s.memConnector.Info()
	if s.declared {
		i.Features = append(i.Features, sdk.CapChecksumRanges)
	}
	return i
}

func (s *summer) ChecksumRanges(_ context.Context, req sdk.ChecksumRangesRequest) (*sdk.ChecksumRangesResult, error) {
	return &sdk.ChecksumRangesResult{Ranges: []sdk.RangeChecksum{
		{Index: 0, Rows: req.Lower, Checksum: fmt.Sprint(req.Table.Name, req.Columns, req.Where, req.Key)},
		{Index: 7, Rows: req.Upper, Checksum: "18446744073709551616" + fmt.Sprint(req.Width) + spans(req.Spans)},
	}, Maintained: req.Where == "", Note: req.Where}, nil
}

func spans(s []sdk.KeySpan) string {
	if len(s) == 0 {
		return ""
	}
	return fmt.Sprint(s)
}

// TestChecksumRangesOverTheProtocol: the capability is there only when
// declared and implemented; the request and the ranges cross the
// protocol whole; a malformed request is refused before the connector.
func TestChecksumRangesOverTheProtocol(t *testing.T) {
	req := sdk.ChecksumRangesRequest{Table: sdk.ObjectRef{Name: "t"}, Columns: []string{"id", "v"}, Where: "v > 1", Key: "id", Lower: -5, Upper: 99, Width: 10}

	r := plugintest.Serve(t, &summer{})
	if r.Info().Has(sdk.CapChecksumRanges) {
		t.Fatal("capability listed without being declared")
	}
	if _, err := r.ChecksumRanges(t.Context(), req); !errors.Is(err, sdk.ErrUnimplemented) {
		t.Fatalf("undeclared: %v", err)
	}
	if plugintest.Serve(t, &memConnector{}).Info().Has(sdk.CapChecksumRanges) {
		t.Fatal("capability listed for a connector without the method")
	}

	r = plugintest.Serve(t, &summer{declared: true})
	if !r.Info().Has(sdk.CapChecksumRanges) {
		t.Fatalf("capabilities %v lack checksum_ranges", r.Info().Capabilities)
	}
	got, err := r.ChecksumRanges(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := []sdk.RangeChecksum{{Index: 0, Rows: -5, Checksum: "t[id v]v > 1id"}, {Index: 7, Rows: 99, Checksum: "1844674407370955161610"}}
	if fmt.Sprint(got.Ranges) != fmt.Sprint(want) || got.Maintained || got.Note != "v > 1" {
		t.Fatalf("ranges %v, want %v, not maintained, noted %q", got, want, req.Where)
	}
	for _, bad := range []func(*sdk.ChecksumRangesRequest){
		func(r *sdk.ChecksumRangesRequest) { r.Width = 0 },
		func(r *sdk.ChecksumRangesRequest) { r.Lower = 100 },
		func(r *sdk.ChecksumRangesRequest) { r.Key = "" },
		func(r *sdk.ChecksumRangesRequest) { r.Columns = nil },
		func(r *sdk.ChecksumRangesRequest) {
			r.Spans = []sdk.KeySpan{{Lower: 5, Upper: 9}, {Lower: 9, Upper: 12}}
		},
		func(r *sdk.ChecksumRangesRequest) { r.Spans = []sdk.KeySpan{{Lower: 5, Upper: 4}} },
	} {
		b := req
		bad(&b)
		if _, err := r.ChecksumRanges(t.Context(), b); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Fatalf("%+v: %v, want an invalid argument", b, err)
		}
	}
}

// TestKeySpansOverTheProtocol: key spans cross the protocol in a checksum
// request; a read with spans is refused for a connector that does not
// declare checksum ranges (it would return every row), not for one that
// does.
func TestKeySpansOverTheProtocol(t *testing.T) {
	req := sdk.ChecksumRangesRequest{Table: sdk.ObjectRef{Name: "t"}, Columns: []string{"id"}, Key: "id", Lower: 1, Upper: 99, Width: 10,
		Spans: []sdk.KeySpan{{Lower: 1, Upper: 3}, {Lower: 50, Upper: 50}}}
	r := plugintest.Serve(t, &summer{declared: true})
	got, err := r.ChecksumRanges(t.Context(), req)
	if err != nil || len(got.Ranges) != 2 || got.Ranges[1].Checksum != "1844674407370955161610[{1 3} {50 50}]" || !got.Maintained {
		t.Fatalf("ranges %v, %v: want the spans echoed", got, err)
	}
	read := sdk.ReadRequest{Source: sdk.Source{Object: &sdk.ObjectRef{Name: "t"}},
		Range: &sdk.RangeFilter{Column: "id", Lower: sdk.Int64Value(1), LowerInclusive: true, Upper: sdk.Int64Value(50), UpperInclusive: true, Spans: req.Spans}}
	if _, err := plugintest.Serve(t, &memConnector{}).Read(t.Context(), read); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("read with spans from a connector without checksum ranges: %v, want an invalid argument", err)
	}
	rr, err := r.Read(t.Context(), read)
	if err != nil {
		t.Fatalf("read with spans from a connector with checksum ranges: %v", err)
	}
	rr.Release()
}

// maintainer echoes a MaintainChecksums request in its answer.
type maintainer struct{ summer }

func (m *maintainer) Info() sdk.Info {
	i := m.memConnector.Info()
	i.Features = append(i.Features, sdk.CapMaintainChecksums)
	return i
}

func (m *maintainer) MaintainChecksums(_ context.Context, req sdk.MaintainChecksumsRequest) (*sdk.MaintainChecksumsResult, error) {
	return &sdk.MaintainChecksumsResult{Statements: []string{fmt.Sprint(req.Table.Name, req.Action, req.DryRun)}, State: sdk.ChecksumsState{
		Installed: true, Shadow: "s", Key: req.Key, Columns: req.Columns, Rows: 42, Stale: req.DryRun, Note: "n",
	}}, nil
}

// TestMaintainChecksumsOverTheProtocol: the capability is there only when
// declared and implemented; each action, the request and the state cross
// whole; a request without a key is refused before the connector.
func TestMaintainChecksumsOverTheProtocol(t *testing.T) {
	req := sdk.MaintainChecksumsRequest{Table: sdk.ObjectRef{Name: "t"}, Key: "id", Columns: []string{"a", "b"}, DryRun: true}
	if r := plugintest.Serve(t, &summer{declared: true}); r.Info().Has(sdk.CapMaintainChecksums) {
		t.Fatal("capability listed without being declared")
	} else if _, err := r.MaintainChecksums(t.Context(), req); !errors.Is(err, sdk.ErrUnimplemented) {
		t.Fatalf("undeclared: %v", err)
	}
	r := plugintest.Serve(t, &maintainer{})
	if !r.Info().Has(sdk.CapMaintainChecksums) {
		t.Fatalf("capabilities %v lack maintain_checksums", r.Info().Capabilities)
	}
	for _, a := range []sdk.ChecksumsAction{sdk.ChecksumsStatus, sdk.ChecksumsInstall, sdk.ChecksumsDrop} {
		req.Action = a
		got, err := r.MaintainChecksums(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		want := sdk.ChecksumsState{Installed: true, Shadow: "s", Key: "id", Columns: req.Columns, Rows: 42, Stale: true, Note: "n"}
		if fmt.Sprint(got.Statements) != fmt.Sprint([]string{fmt.Sprint("t", a, true)}) || fmt.Sprint(got.State) != fmt.Sprint(want) {
			t.Fatalf("action %d: %+v, want the request echoed and %+v", a, got, want)
		}
	}
	req.Key, req.Action = "", sdk.ChecksumsInstall
	if _, err := r.MaintainChecksums(t.Context(), req); !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("install without a key: %v, want an invalid argument", err)
	}
}

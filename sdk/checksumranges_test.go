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

func (s *summer) ChecksumRanges(_ context.Context, req sdk.ChecksumRangesRequest) ([]sdk.RangeChecksum, error) {
	return []sdk.RangeChecksum{
		{Index: 0, Rows: req.Lower, Checksum: fmt.Sprint(req.Table.Name, req.Columns, req.Where, req.Key)},
		{Index: 7, Rows: req.Upper, Checksum: "18446744073709551616" + fmt.Sprint(req.Width)},
	}, nil
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
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ranges %v, want %v", got, want)
	}
	for _, bad := range []func(*sdk.ChecksumRangesRequest){
		func(r *sdk.ChecksumRangesRequest) { r.Width = 0 },
		func(r *sdk.ChecksumRangesRequest) { r.Lower = 100 },
		func(r *sdk.ChecksumRangesRequest) { r.Key = "" },
		func(r *sdk.ChecksumRangesRequest) { r.Columns = nil },
	} {
		b := req
		bad(&b)
		if _, err := r.ChecksumRanges(t.Context(), b); !errors.Is(err, sdk.ErrInvalidArgument) {
			t.Fatalf("%+v: %v, want an invalid argument", b, err)
		}
	}
}

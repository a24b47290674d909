package wire

import (
	"bytes"
	"io"
	"testing"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/halfpipe-io/halfpipe/sdk/internal/proto/connectorv1"
)

// split cuts b into a BufferSlice of pieces of at most n bytes, as gRPC
// hands over a message received in several frames.
func split(b []byte, n int) mem.BufferSlice {
	var s mem.BufferSlice
	for len(b) > 0 {
		k := min(n, len(b))
		s = append(s, mem.SliceBuffer(b[:k]))
		b = b[k:]
	}
	return s
}

func readChunk(t *testing.T, c encoding.CodecV2, field protowire.Number, wire mem.BufferSlice) []byte {
	t.Helper()
	ch := &inChunk{field: field}
	if err := c.Unmarshal(wire, ch); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(ch.r)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestChunkCodecIsTheProtoWireFormat: chunks are framed exactly as the
// proto messages carrying them, both ways, so peers built without the
// chunk codec interoperate; other messages are the standard codec's.
func TestChunkCodecIsTheProtoWireFormat(t *testing.T) {
	c := codec
	payload := bytes.Repeat([]byte("arrow ipc \x00\xff"), 10_000)
	for _, tc := range []struct {
		field protowire.Number
		msg   proto.Message
	}{
		{ReadResponseArrow, &pb.ReadResponse{Arrow: payload}},
		{WriteRequestArrow, &pb.WriteRequest{Kind: &pb.WriteRequest_Arrow{Arrow: payload}}},
		{WriteRequestDeleteKeys, &pb.WriteRequest{Kind: &pb.WriteRequest_DeleteKeys{DeleteKeys: payload}}},
	} {
		want, err := proto.Marshal(tc.msg)
		if err != nil {
			t.Fatal(err)
		}
		sent, err := c.Marshal(&outChunk{field: tc.field, data: split(payload, 7000)})
		if err != nil {
			t.Fatal(err)
		}
		if got := sent.Materialize(); !bytes.Equal(got, want) {
			t.Errorf("field %d: chunk framed as %x..., proto as %x...", tc.field, got[:8], want[:8])
		}
		if got := readChunk(t, c, tc.field, split(want, 16<<10)); !bytes.Equal(got, payload) {
			t.Errorf("field %d: %d bytes read back, want the %d sent", tc.field, len(got), len(payload))
		}
	}

	// Other forms a peer may send parse as proto would.
	header, err := proto.Marshal(&pb.WriteRequest{Kind: &pb.WriteRequest_Header{Header: &pb.WriteHeader{Keys: []string{"id"}}}})
	if err != nil {
		t.Fatal(err)
	}
	arrow := func(b []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), b)
	}
	unknownFirst := append(protowire.AppendVarint(protowire.AppendTag(nil, 9, protowire.VarintType), 42), arrow([]byte("abc"))...)
	for name, tc := range map[string]struct {
		field protowire.Number
		wire  []byte
		want  string
	}{
		"empty message":       {ReadResponseArrow, nil, ""},
		"unknown field first": {ReadResponseArrow, unknownFirst, "abc"},
		"field twice":         {ReadResponseArrow, append(arrow([]byte("first")), arrow([]byte("last"))...), "last"},
		"header, not arrow":   {WriteRequestArrow, header, ""},
	} {
		if got := readChunk(t, c, tc.field, split(tc.wire, 3)); string(got) != tc.want {
			t.Errorf("%s: read %q, want %q", name, got, tc.want)
		}
	}
	if err := c.Unmarshal(split([]byte{0x0a, 0x05, 'a'}, 8), &inChunk{field: ReadResponseArrow}); err == nil {
		t.Error("a truncated chunk parsed")
	}

	// Messages other than chunks are the standard codec's.
	req := &pb.ReadRequest{Columns: []string{"a", "b"}, BatchMaxRows: 7}
	wire, err := c.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	back := &pb.ReadRequest{}
	if err := c.Unmarshal(wire, back); err != nil || !proto.Equal(req, back) {
		t.Errorf("ReadRequest round trip: %v, %v", back, err)
	}
}

// TestCodecNotRegistered: the chunk codec is handed to the protocol's own
// servers and clients; the process-wide "proto" codec stays gRPC's, so
// other gRPC users in a host or plugin are untouched.
func TestCodecNotRegistered(t *testing.T) {
	if _, ok := encoding.GetCodecV2("proto").(chunkCodec); ok {
		t.Fatal("the process-wide proto codec was replaced by the chunk codec")
	}
}

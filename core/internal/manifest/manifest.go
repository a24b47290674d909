// Package manifest is the document that publishes a run. It is written
// only after every data file is complete, so its presence is the commit
// marker: no manifest, no run. It lists every file with its rows, bytes and
// SHA-256, the Arrow schema, the source, and for delta runs the range.
//
// A run that read zero rows still publishes a manifest, with no files and
// total_rows 0: consumers can tell "nothing changed" from "did not run".
package manifest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// Version is the manifest format version.
const Version = 1

// FileName is the manifest's file name in the default layout.
const FileName = "_manifest.json"

// Manifest describes one published run.
type Manifest struct {
	Version     int       `json:"manifest_version"`
	Tool        string    `json:"tool"`
	ToolVersion string    `json:"tool_version"`
	RunID       string    `json:"run_id"`
	Mode        string    `json:"mode"`
	Layout      string    `json:"layout"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"`
	Source      Source    `json:"source"`
	Target      Target    `json:"target"`
	Format      string    `json:"format"`
	Compression string    `json:"compression"`
	CSV         *CSV      `json:"csv,omitempty"`
	TotalRows   int64     `json:"total_rows"`
	TotalBytes  int64     `json:"total_bytes"`
	Files       []File    `json:"files"`
	Schema      Schema    `json:"schema"`
	Delta       *Delta    `json:"delta,omitempty"`
}

// Source is where the rows came from. DSN is always masked.
type Source struct {
	Type    string   `json:"type"`
	DSN     string   `json:"dsn"`
	Object  string   `json:"object,omitempty"`
	Query   string   `json:"query,omitempty"`
	Columns []string `json:"columns,omitempty"`
	Where   string   `json:"where,omitempty"`
}

// Target is where the files went. URL is always masked.
type Target struct {
	Type   string `json:"type"`
	URL    string `json:"url"`
	Object string `json:"object"`
}

// CSV records how CSV files were written, so readers (and hp verify)
// know whether the first line is a header and what marks NULL.
type CSV struct {
	Header    bool   `json:"header"`
	Delimiter string `json:"delimiter"`
	Null      string `json:"null"`
}

// File is one data file.
type File struct {
	Path        string `json:"path"`
	URL         string `json:"url"`
	Part        int    `json:"part"`
	Rows        int64  `json:"rows"`
	Bytes       int64  `json:"bytes"`
	SHA256      string `json:"sha256"`
	Format      string `json:"format"`
	Compression string `json:"compression"`
}

// Delta is the range a delta run extracted.
type Delta struct {
	Driver         string   `json:"driver"`
	DriverType     string   `json:"driver_type"`
	Low            string   `json:"low,omitempty"`
	LowInclusive   bool     `json:"low_inclusive"`
	High           string   `json:"high,omitempty"`
	HighInclusive  bool     `json:"high_inclusive"`
	PrimaryKeys    []string `json:"primary_keys,omitempty"`
	NullDriverRows int64    `json:"null_driver_rows"`
}

// Schema is the Arrow schema, readable and exact.
type Schema struct {
	Fields []Field `json:"fields"`
	// ArrowIPC is the schema as an Arrow IPC stream, base64: consumers can
	// rebuild the exact Arrow types from it.
	ArrowIPC string `json:"arrow_ipc"`
}

// Field is one column.
type Field struct {
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	Nullable bool              `json:"nullable"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// SchemaOf describes an Arrow schema.
func SchemaOf(s *arrow.Schema) (Schema, error) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s))
	if err := w.Close(); err != nil {
		return Schema{}, fmt.Errorf("encoding schema: %w", err)
	}
	out := Schema{ArrowIPC: base64.StdEncoding.EncodeToString(buf.Bytes())}
	for _, f := range s.Fields() {
		fld := Field{Name: f.Name, Type: f.Type.String(), Nullable: f.Nullable}
		if f.Metadata.Len() > 0 {
			fld.Metadata = map[string]string{}
			for i, k := range f.Metadata.Keys() {
				fld.Metadata[k] = f.Metadata.Values()[i]
			}
		}
		out.Fields = append(out.Fields, fld)
	}
	return out, nil
}

// Arrow rebuilds the exact Arrow schema.
func (s Schema) Arrow() (*arrow.Schema, error) {
	raw, err := base64.StdEncoding.DecodeString(s.ArrowIPC)
	if err != nil {
		return nil, fmt.Errorf("manifest schema: %w", err)
	}
	r, err := ipc.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("manifest schema: %w", err)
	}
	defer r.Release()
	return r.Schema(), nil
}

// Marshal renders the manifest as indented JSON. DSNs and URLs are masked
// again here, whatever the caller put in.
func (m *Manifest) Marshal() ([]byte, error) {
	c := *m
	c.Source.DSN = sdk.MaskDSN(c.Source.DSN)
	c.Target.URL = sdk.MaskDSN(c.Target.URL)
	if c.Files == nil {
		c.Files = []File{}
	}
	data, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// Parse reads and validates a manifest.
func Parse(data []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a halfpipe manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks the manifest's internal consistency.
func (m *Manifest) Validate() error {
	var errs []string
	if m.Version != Version {
		errs = append(errs, fmt.Sprintf("manifest_version is %d, this hp reads %d", m.Version, Version))
	}
	if m.RunID == "" {
		errs = append(errs, "run_id is missing")
	}
	rows, bytes := int64(0), int64(0)
	for i, f := range m.Files {
		if f.Path == "" || len(f.SHA256) != 64 {
			errs = append(errs, fmt.Sprintf("file %d lacks a path or a SHA-256", i))
		}
		rows += f.Rows
		bytes += f.Bytes
	}
	if rows != m.TotalRows || bytes != m.TotalBytes {
		errs = append(errs, fmt.Sprintf("files add up to %d rows and %d bytes, totals say %d and %d", rows, bytes, m.TotalRows, m.TotalBytes))
	}
	if len(errs) > 0 {
		return errors.New("invalid manifest: " + strings.Join(errs, "; "))
	}
	return nil
}

// FormatOf is the format and compression of file f: its own, else the
// run's.
func (m *Manifest) FormatOf(f File) (format, compression string) {
	format, compression = f.Format, f.Compression
	if format == "" {
		format = m.Format
	}
	if compression == "" {
		compression = m.Compression
	}
	return format, compression
}

// FilePaths lists the paths of the data files, in order.
func (m *Manifest) FilePaths() []string {
	out := make([]string, len(m.Files))
	for i, f := range m.Files {
		out[i] = f.Path
	}
	return out
}

package testkit

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// FaultProxy is an HTTP reverse proxy on 127.0.0.1 in front of a server
// (usually an S3Server) that forwards requests unchanged, Host header
// included, so SigV4 signatures made for the proxy's address verify at
// the server, and injects faults into the requests that rules match.
// Bodies are streamed, never buffered whole.
type FaultProxy struct {
	// URL is the proxy's address, http://127.0.0.1:PORT; point clients'
	// endpoint at it.
	URL string

	target    *url.URL
	srv       *http.Server
	proxy     *httputil.ReverseProxy
	transport *http.Transport

	mu    sync.Mutex
	rules []*faultRule

	requests, hits atomic.Int64
}

// Fault is a rule for FaultProxy.Inject. Delay and then Hold apply
// first; then at most one of Drop, Status, DropAfterBytes, DropResponse
// (in that order of precedence); with none of them the request is
// forwarded.
type Fault struct {
	// Match selects the requests the rule applies to; nil matches every
	// request. It runs under the proxy's lock with the incoming request,
	// whose body it must not read.
	Match func(r *http.Request) bool
	// Times is how many matching requests the rule hits before it stops
	// matching; 0 means every one, until Clear.
	Times int
	// Status answers with this HTTP status and an S3 XML error body
	// instead of forwarding, after draining the request body.
	Status int
	// Code is the S3 error code for Status (default: SlowDown for 503,
	// InternalError for 500, AccessDenied for 403, else InjectedFault).
	Code string
	// Message is the error message for Status (default: S3's usual text
	// for Code).
	Message string
	// Drop closes the client's connection without an answer right after
	// reading the request headers; nothing is forwarded.
	Drop bool
	// DropAfterBytes forwards the request but cuts it after this many
	// bytes of request body: the server's connection is aborted and the
	// client's closed without an answer. A shorter body is forwarded
	// whole, and then the answer is dropped as with DropResponse.
	DropAfterBytes int64
	// DropResponse forwards the request, so the server acts on it, and
	// closes the client's connection instead of relaying the answer.
	DropResponse bool
	// Delay waits this long before acting on (or forwarding) the request.
	Delay time.Duration
	// Hold, when not nil, then holds the request until it is closed (or
	// the client goes away): a test decides when a request proceeds, such
	// as a run kept in progress for exactly as long as the test needs,
	// however slow the machine.
	Hold <-chan struct{}
	// Header is added to a Status answer (e.g. X-Amz-Bucket-Region on a
	// 301 PermanentRedirect).
	Header map[string]string
}

type faultRule struct {
	Fault
	used int
}

type dropKey struct{}

var errDropped = errors.New("testkit: fault proxy dropped the connection")

// StartFaultProxy starts a FaultProxy for target (scheme://host:port) on
// a free port of 127.0.0.1. It closes when the test ends.
func StartFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		t.Fatalf("fault proxy target %q is not scheme://host:port (%v)", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fault proxy: %v", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DisableCompression = true // relay bodies and Content-Encoding as they are
	tr.MaxIdleConnsPerHost = 64
	discard := log.New(io.Discard, "", 0)
	p := &FaultProxy{URL: "http://" + ln.Addr().String(), target: u, transport: tr}
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// Keep the path and query exactly as signed; only the
			// destination changes. The Host header stays the proxy's.
			pr.Out.URL.Scheme = u.Scheme
			pr.Out.URL.Host = u.Host
			pr.Out.Host = pr.In.Host
		},
		Transport:     tr,
		FlushInterval: -1,
		ErrorLog:      discard,
		ModifyResponse: func(resp *http.Response) error {
			if resp.Request.Context().Value(dropKey{}) != nil {
				return errDropped
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Value(dropKey{}) != nil {
				hangUp(w)
				return
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.srv = &http.Server{Handler: p, ErrorLog: discard, ReadHeaderTimeout: time.Minute}
	go func() { _ = p.srv.Serve(ln) }()
	t.Cleanup(p.Close)
	return p
}

// Close stops the proxy and closes its connections. The test's cleanup
// calls it.
func (p *FaultProxy) Close() {
	_ = p.srv.Close()
	p.transport.CloseIdleConnections()
}

// Inject adds a rule. Rules are checked in the order they were added and
// the first that matches a request (and has hits left) applies.
func (p *FaultProxy) Inject(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &faultRule{Fault: f})
}

// Clear removes every rule.
func (p *FaultProxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// Requests returns how many requests the proxy has received.
func (p *FaultProxy) Requests() int64 { return p.requests.Load() }

// Hits returns how many requests a rule applied to.
func (p *FaultProxy) Hits() int64 { return p.hits.Load() }

func (p *FaultProxy) match(r *http.Request) (Fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, rule := range p.rules {
		if rule.Times > 0 && rule.used >= rule.Times {
			continue
		}
		if rule.Match != nil && !rule.Match(r) {
			continue
		}
		rule.used++
		return rule.Fault, true
	}
	return Fault{}, false
}

// ServeHTTP applies the first matching rule to r, or forwards it.
func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	f, ok := p.match(r)
	if !ok {
		p.proxy.ServeHTTP(w, r)
		return
	}
	p.hits.Add(1)
	if f.Delay > 0 {
		timer := time.NewTimer(f.Delay)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			return
		}
	}
	if f.Hold != nil {
		select {
		case <-f.Hold:
		case <-r.Context().Done():
			return
		}
	}
	switch {
	case f.Drop:
		hangUp(w)
	case f.Status != 0:
		_, _ = io.Copy(io.Discard, r.Body)
		for k, v := range f.Header {
			w.Header().Set(k, v)
		}
		writeS3Error(w, r, f.Status, f.Code, f.Message)
	case f.DropAfterBytes > 0 || f.DropResponse:
		r = r.WithContext(context.WithValue(r.Context(), dropKey{}, true))
		if f.DropAfterBytes > 0 && r.Body != nil && r.Body != http.NoBody {
			r.Body = &cutBody{ReadCloser: r.Body, left: f.DropAfterBytes}
		}
		p.proxy.ServeHTTP(w, r)
	default:
		p.proxy.ServeHTTP(w, r)
	}
}

// hangUp closes the client's connection without an answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// The server closes the connection of an aborted handler.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// cutBody is a request body that fails after left bytes.
type cutBody struct {
	io.ReadCloser
	left int64
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errDropped
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

var s3ErrorMessages = map[string]string{
	"SlowDown":           "Please reduce your request rate.",
	"InternalError":      "We encountered an internal error. Please try again.",
	"ServiceUnavailable": "Service is unable to handle request.",
	"AccessDenied":       "Access Denied",
	"RequestTimeout":     "Your socket connection to the server was not read from or written to within the timeout period.",
}

func writeS3Error(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if code == "" {
		switch status {
		case http.StatusServiceUnavailable:
			code = "SlowDown"
		case http.StatusInternalServerError:
			code = "InternalError"
		case http.StatusForbidden:
			code = "AccessDenied"
		default:
			code = "InjectedFault"
		}
	}
	if msg == "" {
		msg = s3ErrorMessages[code]
		if msg == "" {
			msg = "Fault injected by the test proxy."
		}
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>`)
	_ = xml.EscapeText(&b, []byte(code))
	b.WriteString(`</Code><Message>`)
	_ = xml.EscapeText(&b, []byte(msg))
	b.WriteString(`</Message></Error>`)
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	h.Set("X-Amz-Request-Id", fmt.Sprintf("FAULT%d", time.Now().UnixNano()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, b.String())
	}
}

// IsUploadPart matches UploadPart (and UploadPartCopy) requests: PUT
// with partNumber and uploadId in the query.
func IsUploadPart(r *http.Request) bool {
	q := r.URL.Query()
	return r.Method == http.MethodPut && q.Has("partNumber") && q.Has("uploadId")
}

// IsPut matches PutObject requests: a PUT to a path-style object URL
// (/bucket/key) that is not an UploadPart.
func IsPut(r *http.Request) bool {
	if r.Method != http.MethodPut || IsUploadPart(r) {
		return false
	}
	_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return key != ""
}

// IsCreateMultipart matches CreateMultipartUpload: POST with ?uploads.
func IsCreateMultipart(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploads")
}

// IsCompleteMultipart matches CompleteMultipartUpload: POST with uploadId.
func IsCompleteMultipart(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("uploadId")
}

// IsAbortMultipart matches AbortMultipartUpload: DELETE with uploadId.
func IsAbortMultipart(r *http.Request) bool {
	return r.Method == http.MethodDelete && r.URL.Query().Has("uploadId")
}

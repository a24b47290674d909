package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/halfpipe-io/halfpipe/sdk"
	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestOracleWithoutClient runs the real Oracle plugin (built with cgo)
// through hp on a machine without the Oracle client libraries: the plugin
// starts, and the first connection fails with exit 2 and a message that
// says what to install, never a cgo stack or the password.
func TestOracleWithoutClient(t *testing.T) {
	t.Parallel() // its own directory
	bin := testkit.Build(t)
	const secret = "Tig3rSecretPw"
	// Port 1 on the loopback: nothing listens, should a client be found.
	out := t.TempDir()
	env := []string{"HP_ORA_DSN=oracle://scott/" + secret + "@//127.0.0.1:1/FREEPDB1", "LD_LIBRARY_PATH=" + t.TempDir(), "HP_OUT_DSN=" + out}
	for _, args := range [][]string{{"check", "ora"}, {"cp", "snap", "ora.orders", "out.x", "--format", "csv"}} {
		res := bin.Run(t, env, args...)
		if !strings.Contains(res.Stderr, "DPI-1047") && strings.Contains(res.Stderr, "ORA-12541") {
			t.Skip("an Oracle client is installed here, so DPI-1047 cannot be provoked")
		}
		if res.Code != 2 {
			t.Fatalf("hp %s: exit %d, want 2\n%s", strings.Join(args, " "), res.Code, res.Stderr)
		}
		testkit.Contains(t, "stderr of hp "+strings.Join(args, " "), res.Stderr,
			"DPI-1047", "Oracle Instant Client", "Basic or Basic Light", "LD_LIBRARY_PATH", "/opt/lib", "libclntsh")
		for _, bad := range []string{secret, "goroutine ", "panic", "SIGSEGV", "runtime/cgo"} {
			if strings.Contains(res.Stderr+res.Stdout, bad) {
				t.Fatalf("hp %s printed %q:\n%s", strings.Join(args, " "), bad, res.Stderr)
			}
		}
	}
	assertNothingPublished(t, out)
}

// TestOraclePluginListed: hp plugins list shows the Oracle plugin, which
// is built with cgo while hp itself is not.
func TestOraclePluginListed(t *testing.T) {
	t.Parallel() // nothing shared
	bin := testkit.Build(t)
	res := bin.Run(t, nil, "plugins", "list", "--output", "json")
	if res.Code != 0 {
		t.Fatalf("hp plugins list: exit %d\n%s", res.Code, res.Stderr)
	}
	var got []listed
	if err := json.Unmarshal([]byte(res.Stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, res.Stdout)
	}
	var ora *listed
	for i := range got {
		if got[i].Name == "oracle" && ora == nil {
			ora = &got[i] // the first found serves the scheme
		}
	}
	if ora == nil || ora.Status != "ok" || strings.Join(ora.Schemes, ",") != "oracle" || !strings.Contains(strings.Join(ora.Capabilities, ","), "write") {
		t.Fatalf("oracle is not listed as a working plugin: %+v", ora)
	}
	cgo := func(path string) string {
		info, err := buildinfo.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range info.Settings {
			if s.Key == "CGO_ENABLED" {
				return s.Value
			}
		}
		return ""
	}
	if got := cgo(filepath.Join(bin.PluginDir, "hp-plugin-oracle")); got != "1" {
		t.Errorf("hp-plugin-oracle built with CGO_ENABLED=%q, want 1", got)
	}
	if got := cgo(bin.HP); got != "0" {
		t.Errorf("hp built with CGO_ENABLED=%q, want 0", got)
	}
}

// fakeOracle builds the Oracle connector on oraclefake (a database/sql
// driver answering with the values godror returns) as hp-plugin-oracle, in
// a directory of its own, and returns that directory.
func fakeOracle(t *testing.T) string {
	t.Helper()
	fakeOracleDir.once.Do(func() {
		if fakeOracleDir.dir, fakeOracleDir.err = os.MkdirTemp("", "hp-e2e-oraclefake-"); fakeOracleDir.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", filepath.Join(fakeOracleDir.dir, "hp-plugin-oracle"), "./plugins/oracle/internal/oraclefake/plugin")
		cmd.Dir = testkit.RepoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			fakeOracleDir.err = fmt.Errorf("building the fake Oracle plugin: %v\n%s", err, out)
		}
	})
	if fakeOracleDir.err != nil {
		t.Fatal(fakeOracleDir.err)
	}
	return fakeOracleDir.dir
}

// fakeOracleDir holds the fake Oracle plugin, built once per test process;
// TestMain removes it.
var fakeOracleDir struct {
	once sync.Once
	dir  string
	err  error
}

// onlyFile returns the one data file of the one run under dir.
func onlyFile(t *testing.T, dir, pattern string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*", pattern))
	if len(files) != 1 {
		t.Fatalf("published %v, want one %s", files, pattern)
	}
	return files[0]
}

// TestOracleSnapAllTypes snaps a table of every Oracle type with edge
// values (HP.T_ALL of oraclefake: godror's Go values) through hp and the
// real connector code to CSV, Parquet and CSV on S3.
func TestOracleSnapAllTypes(t *testing.T) {
	t.Parallel() // its own directory and S3 server
	bin := testkit.Build(t)
	plugins := fakeOracle(t)
	out := t.TempDir()
	srv, env := s3Target(t, "")
	env = append(env, "HP_PLUGIN_DIR="+plugins, "HP_ORA_DSN=oracle://hp/Tig3rSecretPw@//db.example:1521/FREEPDB1", "HP_OUT_DSN="+out)
	for _, target := range []string{"out.csv", "out.parquet", "s3.all"} {
		format := strings.TrimPrefix(target, "out.")
		if target == "s3.all" {
			format = "csv"
		}
		res := bin.Run(t, env, "cp", "snap", "ora.hp.t_all", target, "--format", format, "--compression", "none")
		if res.Code != 0 || strings.Contains(res.Stderr, "Tig3rSecretPw") {
			t.Fatalf("snap to %s: exit %d\n%s", target, res.Code, res.Stderr)
		}
	}
	data, err := os.ReadFile(onlyFile(t, filepath.Join(out, "csv"), "part-*.csv"))
	if err != nil {
		t.Fatal(err)
	}
	onS3, err := os.ReadFile(onlyFile(t, filepath.Join(download(t, srv, "lake", "raw/all/"), "all"), "part-*.csv"))
	if err != nil || !bytes.Equal(onS3, data) {
		t.Fatalf("the CSV on S3 (%d bytes, %v) differs from the local one (%d bytes)", len(onS3), err, len(data))
	}
	rows, err := csv.NewReader(strings.NewReader(string(data))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// NOTE (a 200 kB CLOB) and BLOBV (a 150 kB BLOB) arrive whole.
	const note, blob = 14, 16
	wantBlob := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0, 0xff, 7}, 50000))
	wantCSV := [][]string{
		{"ID", "AMOUNT", "BIG", "NEGS", "F", "D", "DT", "TS", "TS9", "TSTZ", "TSLTZ", "YM", "DS", "NAME", "NOTE", "RAWV", "BLOBV", "RID", "DOC", "J", "FLAG", "FL"},
		{"1", "-1234567890123456789012345678.0123456789", "123456789012345678901234567890123456789", "-9999900", "NaN", "-Infinity",
			"2024-02-29T23:59:59", "0001-01-01T00:00:00.000000", "2262-04-11T23:47:16.854775807", "2024-06-01T12:00:00.123456-03:30", "2024-06-01T10:00:00.000000Z",
			"P-14M0DT0.000000000S", "P0M3DT14706.000007000S", "héllo", "(note)", "AAEC", "(blob)", "AAAR3sAAEAAAACXAAA", "<a>1</a>", `{"a":1}`, "true", "0.1"},
		{"2", "", "", "", "Infinity", "NaN", "", "9999-12-31T23:59:59.999999", "", "", "", "P14M0DT0.000000000S", "P0M0DT-1.000000000S",
			"", "", "", "", "", "", "", "false", ""},
	}
	if len(rows) != 3 || rows[1][note] != strings.Repeat("ünïcode ", 20000) || rows[1][blob] != wantBlob {
		t.Fatalf("CSV: %d rows, or NOTE (%d bytes) or BLOBV (%d bytes) differ", len(rows), len(rows[min(1, len(rows)-1)][note]), len(rows[min(1, len(rows)-1)][blob]))
	}
	rows[1][note], rows[1][blob] = "(note)", "(blob)"
	for r := range wantCSV {
		if got, want := strings.Join(rows[r], "|"), strings.Join(wantCSV[r], "|"); got != want {
			t.Errorf("CSV row %d\n got %s\nwant %s", r, got, want)
		}
	}
	// Parquet keeps the types: the instant and offset of TSTZ, DATE's
	// seconds as milliseconds, TIMESTAMP(9)'s nanoseconds.
	pq := parquetAsText(t, onlyFile(t, filepath.Join(out, "parquet"), "part-*.parquet"))
	want := map[string][2]string{
		"AMOUNT": {"-1234567890123456789012345678.0123456789", `\N`}, "DT": {"1709251199000", `\N`}, "TS9": {"9223372036854775807", `\N`},
		"TSTZ.timestamp": {"2024-06-01T15:30:00.123456Z", `\N`}, "TSTZ.offset_minutes": {"-210", `\N`}, "TSLTZ": {"2024-06-01T10:00:00.000000Z", `\N`},
		"D": {"-Inf", "NaN"}, "YM": {"P-14M0DT0.000000000S", "P14M0DT0.000000000S"}, "FLAG": {"true", "false"}, "NAME": {"héllo", `\N`},
	}
	if len(pq) != 3 {
		t.Fatalf("Parquet: %d rows", len(pq)-1)
	}
	for c, name := range pq[0] {
		if w, ok := want[name]; ok {
			if pq[1][c] != w[0] || pq[2][c] != w[1] {
				t.Errorf("Parquet %s = %q, %q; want %q, %q", name, pq[1][c], pq[2][c], w[0], w[1])
			}
			delete(want, name)
		}
	}
	if len(want) > 0 {
		t.Errorf("Parquet lacks columns %v", want)
	}
}

// oracleClientStandIn writes a stand-in for Oracle's Instant Client zip
// (which no test may download: Oracle's licence) into dir and returns the
// variable that makes layer/build.sh build the Oracle client layer from
// it: the layout of Instant Client Basic Light, a link included, with
// libraries that are not ELF files.
func oracleClientStandIn(t *testing.T, dir string) string {
	t.Helper()
	env, err := writeOracleClientStandIn(dir)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func writeOracleClientStandIn(dir string) (string, error) {
	path := filepath.Join(dir, "instantclient-basiclite-standin.zip")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for _, e := range []struct {
		name string
		mode os.FileMode
		body string
	}{
		{"libclntsh.so.23.1", 0o755, "not an ELF file"},
		{"libclntsh.so", os.ModeSymlink | 0o777, "libclntsh.so.23.1"},
		{"libociicus.so", 0o755, "not an ELF file"},
		{"BASIC_LITE_LICENSE", 0o644, "licence"},
	} {
		h := &zip.FileHeader{Name: "instantclient_23_6/" + e.name, Method: zip.Deflate}
		h.SetMode(e.mode)
		w, err := zw.CreateHeader(h)
		if err == nil {
			_, err = w.Write([]byte(e.body))
		}
		if err != nil {
			return "", fmt.Errorf("writing the Instant Client stand-in %s: %w", path, err)
		}
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("writing the Instant Client stand-in %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("writing the Instant Client stand-in %s: %w", path, err)
	}
	return "ORACLE_INSTANT_CLIENT_ZIP=" + path, nil
}

// TestLambdaOracleLayers: make lambda's Oracle layers unpacked as Lambda
// unpacks them: the cgo plugin with its checksum, and the client layer's
// lib/ (what Lambda puts on LD_LIBRARY_PATH) with Instant Client's
// libraries, its link and libaio. hp finds the plugin there, and the
// plugin finds the client library through LD_LIBRARY_PATH: the stand-in
// is no ELF file, so the connection fails naming it, with exit 2.
func TestLambdaOracleLayers(t *testing.T) {
	t.Parallel() // its own unpacked layers
	bootstrap, opt := lambdaTree(t)
	lib := filepath.Join(opt, "lib")
	// The link stays a link in the zip (this test's unzip makes it a file).
	zr, err := zip.OpenReader(filepath.Join(lambdaDist.dir, "hp-layer-oracle-client-"+map[string]string{"amd64": "x86_64", "arm64": "arm64"}[runtime.GOARCH]+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	link := ""
	for _, f := range zr.File {
		if f.Name == "lib/libclntsh.so" && f.Mode()&os.ModeSymlink != 0 {
			r, _ := f.Open()
			b, _ := io.ReadAll(r)
			r.Close()
			link = string(b)
		}
	}
	if link != "libclntsh.so.23.1" {
		t.Errorf("lib/libclntsh.so is not a link to libclntsh.so.23.1 in the client layer (%q)", link)
	}
	for _, name := range []string{"libclntsh.so", "libclntsh.so.23.1", "libociicus.so", "libaio.so.1"} {
		if _, err := os.Stat(filepath.Join(lib, name)); err != nil {
			t.Errorf("the client layer lacks lib/%s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(lib, "BASIC_LITE_LICENSE")); err == nil {
		t.Errorf("the client layer carries more than libraries")
	}
	plugins := filepath.Join(opt, "hp", "plugins")
	for _, name := range []string{"hp-plugin-oracle", "SHA256SUMS.oracle", "PLUGININFO.oracle"} {
		if _, err := os.Stat(filepath.Join(plugins, name)); err != nil {
			t.Errorf("the oracle layer lacks %s: %v", name, err)
		}
	}
	// A cold start (no cache: a HOME of its own) with every layer in /opt:
	// the layers' PLUGININFO files name the plugin serving oracle:// and
	// the variables it reads (LD_LIBRARY_PATH), so only it starts, once.
	cmd := exec.Command(bootstrap, "check", "ora", "--log-level", "debug")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "HP_PLUGIN_DIR=" + plugins, "HP_REQUIRE_CHECKSUMS=true",
		"LD_LIBRARY_PATH=" + lib, "HP_ORA_DSN=oracle://scott/Tig3rSecretPw@//127.0.0.1:1/FREEPDB1"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("hp check: %v, want exit 2\n%s", err, stderr.String())
	}
	testkit.Contains(t, "stderr", stderr.String(), "DPI-1047", filepath.Join(lib, "libclntsh.so"), "Instant Client", "/opt/lib")
	if started := pluginsStarted(stderr.String()); strings.Join(started, " ") != "oracle" {
		t.Errorf("a cold start started %v, want oracle once:\n%s", started, stderr.String())
	}
}

// layerInfo checks the PLUGININFO.<plugin> of a layer's files: one entry,
// keyed by the layer's binary's sha256, naming the plugin and its scheme.
func layerInfo(t *testing.T, files map[string][]byte, plugin string) {
	t.Helper()
	var f struct {
		Plugins map[string]struct {
			Name    string   `json:"name"`
			Schemes []string `json:"schemes"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(files["hp/plugins/PLUGININFO."+plugin], &f); err != nil {
		t.Fatalf("PLUGININFO.%s: %v", plugin, err)
	}
	sum := sha256.Sum256(files["hp/plugins/hp-plugin-"+plugin])
	e, ok := f.Plugins[hex.EncodeToString(sum[:])]
	if len(f.Plugins) != 1 || !ok || e.Name != plugin || !slices.Contains(e.Schemes, plugin) {
		t.Errorf("PLUGININFO.%s = %s, want one entry for the layer's binary (%x) serving %s://", plugin, files["hp/plugins/PLUGININFO."+plugin], sum, plugin)
	}
}

// TestLambdaOracleLayerArm64 extends TestLambdaOracleLayers to arm64:
// layer/build.sh cross-compiles the cgo Oracle plugin with Debian's
// aarch64 gcc (scripts/debs.sh installs it) and checks its glibc floor
// with the aarch64 objdump. The layer holds an aarch64 ELF with its
// checksum, needing no glibc symbol newer than Lambda's 2.34, and the
// arm64 client layer Instant Client's libraries with an aarch64 libaio; the ODBC
// plugin, which links libodbc, is built only when unixODBC for arm64 is
// there, and otherwise skipped naming it.
// zipContents is every file of the zip at path by name.
func zipContents(t *testing.T, path string) map[string][]byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], err = io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s in %s: %v", f.Name, path, err)
		}
	}
	return files
}

// arm64Dist holds the arm64 Oracle and ODBC layers, cross-built once for
// the tests that check them: a cross build compiles the plugins' packages
// again, for arm64, so two of them at once would double that. The function
// zip is not built (LAYER_FUNCTION=0): these tests check only the layers,
// and hp's own packages (S3, Parquet, ...) are about 40% of the source an
// arm64 build of hp and the two plugins compiles.
//
// The tests check packaging, not code, so nothing is optimised or given
// debug information: Go with -N -l, C (godror's ODPI-C) with -O0 -g0, a
// third less compiling than the release build's -O2 -g. The glibc floor
// they check comes from the functions the C code calls, which these flags
// do not change.
//
// On a fresh machine this build is the e2e package's longest step (its
// Go and C packages compiled for arm64, godror's ODPI-C included), and
// both tests are parallel, so they start only once the serial tests are
// done: TestMain starts it with the process instead (prefetchArm64Layers),
// and the tests wait for it.
var arm64Dist struct {
	once     sync.Once
	dir, out string
	err      error
}

// buildArm64Layers runs layer/build.sh for arm64 once per process; callers
// after the first wait for it. ctx stops it (TestMain, at the end).
func buildArm64Layers(ctx context.Context) {
	arm64Dist.once.Do(func() {
		root, err := testkit.FindRepoRoot()
		if err != nil {
			arm64Dist.err = err
			return
		}
		if arm64Dist.dir, arm64Dist.err = os.MkdirTemp("", "hp-e2e-arm64-"); arm64Dist.err != nil {
			return
		}
		standIn, err := writeOracleClientStandIn(arm64Dist.dir)
		if err != nil {
			arm64Dist.err = err
			return
		}
		cmd := exec.CommandContext(ctx, "bash", "layer/build.sh", "arm64", arm64Dist.dir)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "LAYER_ZIP_LEVEL=1", "LAYER_PLUGINS=oracle odbc", "LAYER_FUNCTION=0", "LAYER_GCFLAGS=all=-N -l -dwarf=false", "CGO_CFLAGS=-O0 -g0",
			strings.Replace(standIn, "ORACLE_INSTANT_CLIENT_ZIP=", "ORACLE_INSTANT_CLIENT_ZIP_ARM64=", 1))
		// hp and the plugins make test built answer for the arm64 ones in
		// the info files (without them, layer/build.sh builds its own).
		if bin := os.Getenv("HP_TEST_BIN_DIR"); bin != "" {
			cmd.Env = append(cmd.Env, "HP="+filepath.Join(bin, "hp"), "LAYER_INFO_FROM="+filepath.Join(bin, "plugins"))
		}
		b, err := cmd.CombinedOutput()
		if arm64Dist.out = string(b); err != nil {
			arm64Dist.err = fmt.Errorf("layer/build.sh arm64: %v\n%s", err, b)
		}
	})
}

func arm64Layers(t *testing.T) (dir, out string) {
	t.Helper()
	buildArm64Layers(context.Background())
	if arm64Dist.err != nil {
		t.Fatal(arm64Dist.err)
	}
	return arm64Dist.dir, arm64Dist.out
}

// arm64LayerTests are the tests that check the arm64 layers.
var arm64LayerTests = []string{"TestLambdaOracleLayerArm64", "TestLambdaODBCLayerArm64"}

// canCrossBuildArm64 reports whether the arm64 layers can be built here:
// natively, or with Debian's aarch64 gcc (and, for the ODBC layer,
// unixODBC for arm64). Without them the tests skip or fail at once.
func canCrossBuildArm64() bool {
	if runtime.GOARCH == "arm64" {
		return true
	}
	_, gccErr := exec.LookPath("aarch64-linux-gnu-gcc")
	return gccErr == nil
}

// prefetchArm64Layers starts the arm64 layer build in the background when
// a test that checks the layers is going to run (-run and -skip allow one
// of them, -list is not set) and it can build; the returned stop cancels
// a build still running and waits for it.
func prefetchArm64Layers() (stop func()) {
	flagValue := func(name string) string {
		if f := flag.Lookup(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	if flagValue("test.list") != "" || !canCrossBuildArm64() ||
		!selected(arm64LayerTests, flagValue("test.run"), flagValue("test.skip")) {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		buildArm64Layers(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// selected reports whether the -run and -skip patterns run and skip
// select one of the top-level tests names (only their top-level parts are
// looked at: a -skip with a slash skips subtests only). An unreadable
// pattern selects nothing: the tests then build when they need it.
func selected(names []string, run, skip string) bool {
	first, _, _ := strings.Cut(run, "/")
	runRE, err := regexp.Compile(first)
	if err != nil {
		return false
	}
	var skipRE *regexp.Regexp
	if skip != "" && !strings.Contains(skip, "/") {
		if skipRE, err = regexp.Compile(skip); err != nil {
			return false
		}
	}
	for _, name := range names {
		if runRE.MatchString(name) && (skipRE == nil || !skipRE.MatchString(name)) {
			return true
		}
	}
	return false
}

// TestSelected: the prefetch of the arm64 layers starts when -run and
// -skip let one of their tests run, and only then.
func TestSelected(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		run, skip string
		want      bool
	}{
		{"", "", true},
		{"Arm64", "", true},
		{"TestLambdaODBCLayerArm64$", "", true},
		{"TestLambdaOracleLayerArm64/sub", "", true},
		{"TestSyncBatch", "", false},
		{"[", "", false},
		{"", "Arm64", false},
		{"", "ODBCLayerArm64", true},
		{"", "TestLambdaOracleLayerArm64/sub", true},
	} {
		if got := selected(arm64LayerTests, c.run, c.skip); got != c.want {
			t.Errorf("selected(-run %q -skip %q) = %v, want %v", c.run, c.skip, got, c.want)
		}
	}
}

func TestLambdaOracleLayerArm64(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("aarch64-linux-gnu-gcc"); err != nil && runtime.GOARCH != "arm64" {
		if os.Getenv("CI") == "true" {
			t.Fatal("aarch64-linux-gnu-gcc is missing: make debs installs it")
		}
		t.Skip("aarch64-linux-gnu-gcc is missing (make debs installs it)")
	}
	dir, out := arm64Layers(t)
	testkit.Contains(t, "layer/build.sh arm64", out, "build hp-plugin-oracle for linux/arm64 (cgo", "Lambda has 2.34")
	if _, err := os.Stat(filepath.Join(dir, "hp-layer-odbc-arm64.zip")); err != nil {
		testkit.Contains(t, "layer/build.sh arm64", out, "skip hp-plugin-odbc for linux/arm64: it links libodbc")
	}
	files := zipContents(t, filepath.Join(dir, "hp-layer-oracle-arm64.zip"))
	bin := files["hp/plugins/hp-plugin-oracle"]
	glibcFloor(t, "hp-plugin-oracle", aarch64ELF(t, files, "hp/plugins/hp-plugin-oracle"))
	sum := sha256.Sum256(bin)
	if want := hex.EncodeToString(sum[:]) + "  hp-plugin-oracle\n"; string(files["hp/plugins/SHA256SUMS.oracle"]) != want {
		t.Errorf("SHA256SUMS.oracle = %q, want %q", files["hp/plugins/SHA256SUMS.oracle"], want)
	}
	layerInfo(t, files, "oracle")

	// The arm64 client layer carries the libaio of its architecture
	// (scripts/debs.sh installs Debian's libaio1:arm64).
	client := zipContents(t, filepath.Join(dir, "hp-layer-oracle-client-arm64.zip"))
	aio := client["lib/libaio.so.1"]
	names := slices.Sorted(maps.Keys(client))
	testkit.Contains(t, "the arm64 client layer", strings.Join(names, " "), "lib/libclntsh.so.23.1", "lib/libociicus.so")
	af, err := elf.NewFile(bytes.NewReader(aio))
	if err != nil {
		t.Fatalf("lib/libaio.so.1 of the arm64 client layer (%d bytes) is no ELF file: %v", len(aio), err)
	}
	if af.Machine != elf.EM_AARCH64 {
		t.Errorf("lib/libaio.so.1 of the arm64 client layer is for %s, want EM_AARCH64", af.Machine)
	}
}

// TestOracleDeltaThroughHp: hp cp delta over DATE, TIMESTAMP and NUMBER
// drivers of HP.EVENTS (oraclefake: the table grows from 5 to 8 rows
// between runs, and the fake evaluates the connector's typed literals and
// NUMBER binds): each row is published once, with the marks exact.
func TestOracleDeltaThroughHp(t *testing.T) {
	t.Parallel() // its own directories
	bin := testkit.Build(t)
	plugins := fakeOracle(t)
	for _, c := range []struct{ driver, first, second string }{
		{"updated", "2024-01-06T00:00:00Z", "2024-01-09T00:00:00Z"},
		{"ts", "2024-01-01T00:00:05.000001Z", "2024-01-01T00:00:08.000001Z"},
		{"n", "0.625", "1"},
	} {
		out := t.TempDir()
		run := func(rows int) deltaSummary {
			env := []string{"HP_PLUGIN_DIR=" + plugins, "HP_OUT_DSN=" + out, fmt.Sprintf("HP_ORA_DSN=oracle://hp/pw@//db/EVENTS%d", rows)}
			return runDelta(t, bin, env, "ora.hp.events", "out.ev", "--delta-driver", c.driver, "--primary-keys", "id")
		}
		if s := run(5); s.Rows != 5 || s.HighWaterMark != c.first {
			t.Fatalf("%s, first run: %+v", c.driver, s)
		}
		if s := run(8); s.Rows != 3 || s.HighWaterMark != c.second {
			t.Fatalf("%s, second run: %+v", c.driver, s)
		}
		if s := run(8); s.Rows != 0 {
			t.Fatalf("%s, idle run: %+v", c.driver, s)
		}
		var ids []string
		for _, r := range publishedRows(t, out) {
			ids = append(ids, strings.SplitN(r, "|", 2)[0])
		}
		if strings.Join(ids, ",") != "1,2,3,4,5,6,7,8" {
			t.Errorf("%s: published ids %v, want 1..8 once each", c.driver, ids)
		}
	}
}

// eventTZ is row i's TSTZ in HP.EVENTS_TZ of oraclefake (EventTZ there).
func eventTZ(i int) time.Time {
	offsets := []int{330, -480, 0, 825, -210, 60, -660, 540}
	return time.Date(2024, 3, 10, 12, 20*i, 0, 0, time.UTC).In(time.FixedZone("", offsets[i-1]*60))
}

// TestOracleDeltaTimeZoneThroughHp: hp cp delta over a TIMESTAMP WITH
// TIME ZONE driver (HP.EVENTS_TZ of oraclefake: instants 20 minutes apart
// whose offsets, -11:00 to +13:45, put the wall times out of order; the
// table grows from 5 to 8 rows). Oracle compares such values as instants,
// and so does the fake: a bound sent or kept as a wall time would skip or
// repeat rows. Each row is published once, with its own offset, and the
// marks are the instants of rows 5 and 8.
func TestOracleDeltaTimeZoneThroughHp(t *testing.T) {
	t.Parallel() // its own directory
	bin := testkit.Build(t)
	plugins := fakeOracle(t)
	out := t.TempDir()
	run := func(rows int) deltaSummary {
		env := []string{"HP_PLUGIN_DIR=" + plugins, "HP_OUT_DSN=" + out, fmt.Sprintf("HP_ORA_DSN=oracle://hp/pw@//db/EVENTS%d", rows)}
		return runDelta(t, bin, env, "ora.hp.events_tz", "out.tz", "--delta-driver", "tstz", "--primary-keys", "id")
	}
	mark := func(i int) string { return eventTZ(i).UTC().Format(time.RFC3339Nano) }
	if s := run(5); s.Rows != 5 || s.HighWaterMark != mark(5) {
		t.Fatalf("first run: %+v, want 5 rows up to %s", s, mark(5))
	}
	if s := run(8); s.Rows != 3 || s.HighWaterMark != mark(8) {
		t.Fatalf("second run: %+v, want 3 rows up to %s", s, mark(8))
	}
	if s := run(8); s.Rows != 0 {
		t.Fatalf("idle run: %+v", s)
	}
	rows := publishedRows(t, out)
	if len(rows) != 8 {
		t.Fatalf("published %d rows, want 8 (ids 1..8 once each): %v", len(rows), rows)
	}
	for i, r := range rows {
		id, ts, _ := strings.Cut(r, "|")
		got, err := time.Parse(time.RFC3339Nano, ts)
		want := eventTZ(i + 1)
		_, gotOff := got.Zone()
		_, wantOff := want.Zone()
		if id != fmt.Sprint(i+1) || err != nil || !got.Equal(want) || gotOff != wantOff {
			t.Errorf("published row %d is %q (%v), want id %d at %s", i, r, err, i+1, want.Format(time.RFC3339Nano))
		}
	}
}

// TestOracleRealServerSpeed reads 10 million rows from the Oracle Database
// named by HP_TEST_ORACLE_DSN through hp and the real plugin (with Oracle
// Instant Client installed) to CSV and, when sqlplus or SQLcl (sql) is on
// PATH, spools the same table to CSV with it: hp must be no more than
// twice as slow (HP_TEST_ORACLE_SPEED_RATIO overrides 2). Without the
// variable it skips by name: no Oracle server or client can run on this
// project's machines or in CI, so it has never run here (see
// plugins/oracle/NOTES.md for a one-command container).
func TestOracleRealServerSpeed(t *testing.T) {
	dsn := os.Getenv("HP_TEST_ORACLE_DSN")
	if dsn == "" {
		t.Skip("HP_TEST_ORACLE_DSN is not set: no Oracle Database to read 10 million rows from")
	}
	const rows = 10_000_000
	bin := testkit.Build(t)
	env := []string{"HP_ORA_DSN=" + dsn, "HP_OUT_DSN=" + t.TempDir()}
	for _, v := range []string{"LD_LIBRARY_PATH", "TNS_ADMIN", "ORACLE_HOME", "NLS_LANG"} {
		if x, ok := os.LookupEnv(v); ok {
			env = append(env, v+"="+x)
		}
	}
	hp := func(timeout time.Duration, args ...string) testkit.Result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := bin.Command(ctx, t, env, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("hp %s: %v\n%s", args[0], err, sdk.MaskIn(stderr.String(), dsn))
		}
		return testkit.Result{Stdout: stdout.String(), Stderr: stderr.String()}
	}
	table := fmt.Sprintf("HP_TEST_SPEED_%d", time.Now().UnixNano()%1e9)
	hp(30*time.Minute, "query", "ora", `CREATE TABLE `+table+` NOLOGGING AS SELECT ROWNUM AS ID, ROUND(DBMS_RANDOM.VALUE(0, 1e6), 2) AS AMOUNT,
		'name ' || ROWNUM AS NAME, SYSTIMESTAMP - NUMTODSINTERVAL(ROWNUM, 'SECOND') AS TS, TRUNC(SYSDATE) - MOD(ROWNUM, 3650) AS DT
		FROM (SELECT 1 FROM DUAL CONNECT BY LEVEL <= 10000), (SELECT 1 FROM DUAL CONNECT BY LEVEL <= 1000)`, "--allow-writes")
	t.Cleanup(func() { hp(5*time.Minute, "query", "ora", "DROP TABLE "+table+" PURGE", "--allow-writes") })

	start := time.Now()
	res := hp(30*time.Minute, "cp", "snap", "ora."+table, "out.speed", "--format", "csv", "--compression", "none", "--output", "json")
	hpTime := time.Since(start)
	var sum struct {
		Rows int64 `json:"rows"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &sum); err != nil || sum.Rows != rows {
		t.Fatalf("hp read %d rows (%v), want %d:\n%s", sum.Rows, err, rows, res.Stdout)
	}
	t.Logf("hp: %d rows in %s (%.0f rows/s)", rows, hpTime.Round(time.Millisecond), rows/hpTime.Seconds())

	client := ""
	for _, c := range []string{"sqlplus", "sql"} {
		if _, err := exec.LookPath(c); err == nil {
			client = c
			break
		}
	}
	if client == "" {
		t.Log("neither sqlplus nor SQLcl (sql) is on PATH: no spooling to compare with")
		return
	}
	connect, err := sqlplusConnect(dsn)
	if err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(t.TempDir(), "spool.csv")
	// The password goes in on stdin, never on the command line.
	script := "CONNECT " + connect + "\nSET MARKUP CSV ON QUOTE OFF\nSET TERMOUT OFF FEEDBACK OFF HEADING ON PAGESIZE 0 ARRAYSIZE 1000 TRIMSPOOL ON\n" +
		"SPOOL " + spool + "\nSELECT * FROM " + table + ";\nSPOOL OFF\nEXIT\n"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, client, "-S", "/nolog")
	cmd.Stdin = strings.NewReader(script)
	start = time.Now()
	out, err := cmd.CombinedOutput()
	spoolTime := time.Since(start)
	if err != nil {
		t.Fatalf("%s: %v\n%s", client, err, sdk.MaskIn(string(out), dsn))
	}
	lines, err := countLines(spool)
	if err != nil || lines < rows {
		t.Fatalf("%s spooled %d lines (%v), want %d rows", client, lines, err, rows)
	}
	ratio := 2.0
	if v := os.Getenv("HP_TEST_ORACLE_SPEED_RATIO"); v != "" {
		if ratio, err = strconv.ParseFloat(v, 64); err != nil {
			t.Fatalf("HP_TEST_ORACLE_SPEED_RATIO=%q: %v", v, err)
		}
	}
	t.Logf("%s spool: %d rows in %s (%.0f rows/s); hp takes %.2f× its time", client, rows, spoolTime.Round(time.Millisecond), rows/spoolTime.Seconds(), hpTime.Seconds()/spoolTime.Seconds())
	if hpTime.Seconds() > ratio*spoolTime.Seconds() {
		t.Errorf("hp took %s, more than %.1f× %s's %s", hpTime.Round(time.Millisecond), ratio, client, spoolTime.Round(time.Millisecond))
	}
}

// sqlplusConnect turns an hp Oracle DSN into a sqlplus connect string
// (user/password@connect): Halfpipe's form as written, the URL form
// decoded.
func sqlplusConnect(dsn string) (string, error) {
	rest := strings.TrimPrefix(dsn, "oracle://")
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return "", fmt.Errorf("HP_TEST_ORACLE_DSN has no user@")
	}
	if user, _, _ := strings.Cut(rest[:at], "/"); !strings.Contains(user, ":") {
		return rest, nil // Halfpipe's form
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("HP_TEST_ORACLE_DSN: %w", sdk.MaskErr(err, dsn))
	}
	pw, _ := u.User.Password()
	return u.User.Username() + "/" + pw + "@//" + u.Host + u.Path, nil
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	buf := make([]byte, 1<<20)
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// The speed test's connect strings, without a server: both DSN forms.
func TestOracleSqlplusConnect(t *testing.T) {
	t.Parallel() // nothing shared
	for dsn, want := range map[string]string{
		"oracle://hp/p@ss:w/rd@//db:1521/FREEPDB1": "hp/p@ss:w/rd@//db:1521/FREEPDB1",
		"oracle://hp:p%40ss@db:1521/FREEPDB1":      "hp/p@ss@//db:1521/FREEPDB1",
	} {
		if got, err := sqlplusConnect(dsn); got != want || err != nil {
			t.Errorf("sqlplusConnect(%q) = %q, %v; want %q", dsn, got, err, want)
		}
	}
}

package e2e

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/halfpipe-io/halfpipe/testkit"
)

// TestLambdaODBCLayerArm64 cross-builds the odbc layer for arm64 (cgo
// with Debian's aarch64 gcc against unixodbc-dev:arm64, which
// scripts/debs.sh installs) and checks what Lambda will run: an aarch64
// plugin needing no glibc newer than Amazon Linux 2023's 2.34, and
// unixODBC's aarch64 libraries beside it.
func TestLambdaODBCLayerArm64(t *testing.T) {
	t.Parallel()
	if runtime.GOARCH != "arm64" {
		_, gccErr := exec.LookPath("aarch64-linux-gnu-gcc")
		_, libErr := os.Stat("/usr/lib/aarch64-linux-gnu/libodbc.so")
		if gccErr != nil || libErr != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("aarch64-linux-gnu-gcc or unixodbc-dev:arm64 is missing: make debs installs them")
			}
			t.Skip("aarch64-linux-gnu-gcc or unixodbc-dev:arm64 is missing (make debs installs them)")
		}
	}
	dir, out := arm64Layers(t)
	testkit.Contains(t, "layer/build.sh arm64", out, "build hp-plugin-odbc for linux/arm64 (cgo", "Lambda has 2.34")
	files := zipContents(t, filepath.Join(dir, "hp-layer-odbc-arm64.zip"))
	plugin := aarch64ELF(t, files, "hp/plugins/hp-plugin-odbc")
	glibcFloor(t, "hp-plugin-odbc", plugin)
	needed, err := plugin.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(needed, "libodbc.so.2") {
		t.Errorf("hp-plugin-odbc for arm64 needs %v, want libodbc.so.2 among them", needed)
	}
	// The driver manager and what it loads, for the plugin's architecture.
	for _, lib := range []string{"lib/libodbc.so.2", "lib/libodbcinst.so.2", "lib/libltdl.so.7"} {
		glibcFloor(t, lib, aarch64ELF(t, files, lib))
	}
	if !strings.Contains(string(files["etc/odbcinst.ini"]), "ODBCSYSINI=/opt/etc") {
		t.Errorf("etc/odbcinst.ini = %q, want the note on adding a driver layer", files["etc/odbcinst.ini"])
	}
	sum := sha256.Sum256(files["hp/plugins/hp-plugin-odbc"])
	if want := hex.EncodeToString(sum[:]) + "  hp-plugin-odbc\n"; string(files["hp/plugins/SHA256SUMS.odbc"]) != want {
		t.Errorf("SHA256SUMS.odbc = %q, want %q", files["hp/plugins/SHA256SUMS.odbc"], want)
	}
	layerInfo(t, files, "odbc")
}

// aarch64ELF parses files[name] as an ELF file, failing unless it is one,
// and flags it unless it is 64-bit ARM.
func aarch64ELF(t *testing.T, files map[string][]byte, name string) *elf.File {
	t.Helper()
	ef, err := elf.NewFile(bytes.NewReader(files[name]))
	if err != nil {
		t.Fatalf("%s (%d bytes) is no ELF file: %v", name, len(files[name]), err)
	}
	if ef.Machine != elf.EM_AARCH64 || ef.Class != elf.ELFCLASS64 {
		t.Errorf("%s is a %s %s ELF, want EM_AARCH64 ELFCLASS64", name, ef.Class, ef.Machine)
	}
	return ef
}

// glibcFloor flags name unless it needs no glibc newer than 2.34.
func glibcFloor(t *testing.T, name string, ef *elf.File) {
	t.Helper()
	syms, err := ef.ImportedSymbols()
	if err != nil {
		t.Fatal(err)
	}
	glibc := 0
	for _, s := range syms {
		if v, ok := strings.CutPrefix(s.Version, "GLIBC_2."); ok {
			minor, _, _ := strings.Cut(v, ".")
			n, _ := strconv.Atoi(minor)
			glibc = max(glibc, n)
		}
	}
	if glibc == 0 || glibc > 34 {
		t.Errorf("%s for arm64 needs glibc 2.%d, want 2.17..2.34 (Lambda's Amazon Linux 2023)", name, glibc)
	}
}

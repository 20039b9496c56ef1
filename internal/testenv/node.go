package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// WebTest returns the repo's web/test directory (the npm package of the
// browser and wallet tests) with its node_modules installed by `npm ci`
// from the committed lockfile. It skips the test, saying why, when node or
// npm is missing. npm ci runs once at a time across test processes (a file
// lock) and only while node_modules lacks the lockfile's packages.
func WebTest(t testing.TB) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: the wallet and browser tests need Node.js (apt-get install nodejs npm)", tool)
		}
	}
	dir := filepath.Join(RepoRoot(t), "web", "test")
	lock, err := os.OpenFile(filepath.Join(dir, ".npm-ci.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("web test lock: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("web test lock: %v", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if installed(dir) {
		return dir
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
	return dir
}

// installed reports whether node_modules holds what the lockfile names
// (npm writes node_modules/.package-lock.json when it installs).
func installed(dir string) bool {
	want, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return false
	}
	got, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	return err == nil && !got.ModTime().Before(want.ModTime())
}

// RepoRoot returns the module's root directory (where go.mod is), found
// from the test's working directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Chromium returns Debian's chromium binary, or skips the test saying how
// to get it (scripts/ensure-chromium.sh).
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("VSC_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed: the browser tests need Debian's chromium (scripts/ensure-chromium.sh installs it)")
	return ""
}

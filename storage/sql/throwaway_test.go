package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// envPGBin names the directory of initdb and pg_ctl, for hosts where
// they are neither on PATH nor where Debian and Ubuntu put them.
const envPGBin = "WORKITEMS_PG_BIN"

// throwawayServer is a PostgreSQL server a test starts, restarts and
// stops on its own data directory and port, never the shared one.
type throwawayServer struct {
	bin     string
	dir     string
	port    int
	asUser  []string
	running bool
}

// startThrowaway initializes a data directory and starts a server on
// a spare loopback port. It skips the test when the server binaries
// are missing, unless CI=true or WORKITEMS_REQUIRE_DB=1.
func startThrowaway(t *testing.T) *throwawayServer {
	t.Helper()

	srv := &throwawayServer{bin: pgBinDir(t)}

	// PostgreSQL refuses to run as root: then the server runs as the
	// postgres user, which must own its directory.
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "running as root needs a postgres user to run the server")

		uid, err = strconv.Atoi(u.Uid)
		require.NoError(t, err)
		gid, err = strconv.Atoi(u.Gid)
		require.NoError(t, err)

		srv.asUser = runAs(t, "postgres")
	}
	srv.dir = ownedTempDir(t, uid, gid)

	srv.port = sparePort(t)

	srv.run(t, "initdb", "-D", srv.data(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")

	srv.start(t)
	t.Cleanup(func() {
		if srv.running {
			_, _ = srv.exec("pg_ctl", "-D", srv.data(), "-m", "immediate", "stop")
		}
	})

	return srv
}

func (srv *throwawayServer) data() string {
	return filepath.Join(srv.dir, "data")
}

// DSN returns the address of the server's postgres database.
func (srv *throwawayServer) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", srv.port)
}

// start starts the server and waits until it accepts connections.
func (srv *throwawayServer) start(t *testing.T) {
	t.Helper()

	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k '%s' -c max_connections=40",
		srv.port, srv.dir)
	srv.run(t, "pg_ctl", "-D", srv.data(), "-l", filepath.Join(srv.dir, "server.log"),
		"-w", "-t", "60", "-o", opts, "start")
	srv.running = true
}

// stop stops the server: mode fast disconnects clients and shuts
// down cleanly, immediate kills it as a crash would.
func (srv *throwawayServer) stop(t *testing.T, mode string) {
	t.Helper()

	srv.run(t, "pg_ctl", "-D", srv.data(), "-m", mode, "-w", "-t", "60", "stop")
	srv.running = false
}

// run runs a server binary and fails the test, with the server log,
// when it fails.
func (srv *throwawayServer) run(t *testing.T, name string, args ...string) {
	t.Helper()

	out, err := srv.exec(name, args...)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(srv.dir, "server.log"))
		t.Fatalf("%s %s: %v\n%s\nserver log:\n%s", name,
			strings.Join(args, " "), err, out, log)
	}
}

func (srv *throwawayServer) exec(name string, args ...string) ([]byte, error) {
	argv := slices.Concat(srv.asUser, []string{filepath.Join(srv.bin, name)}, args)

	// The clean-up stops the server after the test's context ended.
	cmd := exec.CommandContext(context.Background(), argv[0], argv[1:]...)
	cmd.Dir = srv.dir

	return cmd.CombinedOutput()
}

// pgBinDir finds the directory of initdb and pg_ctl.
func pgBinDir(t *testing.T) string {
	t.Helper()

	var dirs []string
	if dir := os.Getenv(envPGBin); dir != "" {
		dirs = append(dirs, dir)
	}

	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}

	// Debian and Ubuntu keep the server binaries off PATH, one
	// directory per major version; the newest comes last.
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(found, func(a, b string) int {
		return versionOf(a) - versionOf(b)
	})
	slices.Reverse(found)
	dirs = append(dirs, found...)

	for _, dir := range dirs {
		_, errInit := os.Stat(filepath.Join(dir, "initdb"))
		_, errCtl := os.Stat(filepath.Join(dir, "pg_ctl"))
		if errInit == nil && errCtl == nil {
			return dir
		}
	}

	if requireDB() {
		t.Fatalf("initdb and pg_ctl not found on PATH, in %s or under "+
			"/usr/lib/postgresql, and CI=true or %s=1 requires them", envPGBin, envRequireDB)
	}
	t.Skipf("initdb and pg_ctl not found: install the PostgreSQL server, "+
		"or set %s to their directory, to run this test", envPGBin)

	return ""
}

// versionOf reads the major version out of .../postgresql/16/bin.
func versionOf(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// runAs returns the command prefix that runs a command as name.
func runAs(t *testing.T, name string) []string {
	t.Helper()

	if _, err := exec.LookPath("runuser"); err == nil {
		return []string{"runuser", "-u", name, "--"}
	}

	if _, err := exec.LookPath("setpriv"); err == nil {
		u, err := user.Lookup(name)
		require.NoError(t, err)

		return []string{"setpriv", "--reuid", u.Uid, "--regid", u.Gid, "--init-groups"}
	}

	t.Fatal("running as root needs runuser or setpriv to start PostgreSQL as postgres")

	return nil
}

// ownedTempDir returns a temporary directory of the test that uid
// owns. The test's directories are private to the user running the
// test, so their parent is opened for others to pass through.
func ownedTempDir(t *testing.T, uid, gid int) string {
	t.Helper()

	dir := t.TempDir()
	if uid < 0 {
		return dir
	}

	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o711))
	require.NoError(t, os.Chown(dir, uid, gid))

	return dir
}

// sparePort returns a loopback TCP port nothing listens on now.
func sparePort(t *testing.T) int {
	t.Helper()

	var lc net.ListenConfig
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)

	addr, ok := l.Addr().(*net.TCPAddr)
	require.True(t, ok)
	require.NoError(t, l.Close())

	return addr.Port
}

// openThrowaway opens a pool on srv.
func openThrowaway(t *testing.T, srv *throwawayServer, conns int) *sql.DB {
	t.Helper()

	db, err := sql.Open("pgx", srv.DSN())
	require.NoError(t, err)
	db.SetMaxOpenConns(conns)
	t.Cleanup(func() { require.NoError(t, db.Close()) })

	return db
}

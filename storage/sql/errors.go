package sqlstore

import (
	"errors"
	"fmt"
	"math"
	"reflect"

	"github.com/otpki/workitems/approval"
)

// errKind is what a driver error means to the store.
type errKind int

const (
	// kindOther is any error the store does not recognize.
	kindOther errKind = iota

	// kindRetry means the database aborted the transaction and the
	// same transaction may succeed when run again.
	kindRetry

	// kindUnique means a unique constraint refused a row.
	kindUnique
)

// sqlStater is implemented by the PostgreSQL errors of pgx,
// *pgconn.PgError.
type sqlStater interface {
	SQLState() string
}

// coder is implemented by the errors of modernc.org/sqlite, whose
// Code returns the extended SQLite result code.
type coder interface {
	Code() int
}

// SQLite result codes, from the SQLite documentation.
const (
	sqliteBusy       = 5
	sqliteLocked     = 6
	sqliteUnique     = 2067
	sqlitePrimaryKey = 1555
)

// MySQL and MariaDB error numbers, from the server documentation.
const (
	mysqlDupEntry        = 1062
	mysqlDupEntryKeyName = 1586
	mysqlLockWaitTimeout = 1205
	mysqlDeadlock        = 1213
)

// classify tells what err, as returned through database/sql, means.
// It imports no driver: each driver's error is recognized by what it
// exposes, walking the whole chain of wrapped errors.
func classify(err error) errKind {
	if err == nil {
		return kindOther
	}

	var st sqlStater
	if errors.As(err, &st) {
		switch st.SQLState() {
		case "40001", "40P01":
			return kindRetry
		case "23505":
			return kindUnique
		}

		return kindOther
	}

	var c coder
	if errors.As(err, &c) {
		code := c.Code()
		switch {
		case code&0xff == sqliteBusy, code&0xff == sqliteLocked:
			return kindRetry
		case code == sqliteUnique, code == sqlitePrimaryKey:
			return kindUnique
		}

		return kindOther
	}

	return classifyMySQL(err)
}

// classifyMySQL looks for a MySQL server error along err's chain.
func classifyMySQL(err error) errKind {
	kind := kindOther
	walk(err, func(e error) bool {
		n, ok := mysqlNumber(e)
		if !ok {
			return true
		}

		switch n {
		case mysqlDeadlock, mysqlLockWaitTimeout:
			kind = kindRetry
		case mysqlDupEntry, mysqlDupEntryKeyName:
			kind = kindUnique
		}

		return false
	})

	return kind
}

// mysqlNumber returns the server error number of a *MySQLError of
// github.com/go-sql-driver/mysql without importing it.
//
// The driver gives its error no method that reports the number, so
// the store reads the exported Number field by reflection, and only
// on a pointer to a struct of that package named MySQLError. The
// alternative, parsing Error(), would depend on a message format the
// driver has changed before (it added the SQLSTATE to the text in
// v1.7), while the field has kept its name and type since the
// driver's first releases.
func mysqlNumber(err error) (uint16, bool) {
	v := reflect.ValueOf(err)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return 0, false
	}

	v = v.Elem()
	t := v.Type()
	if t.Kind() != reflect.Struct || t.Name() != "MySQLError" ||
		t.PkgPath() != "github.com/go-sql-driver/mysql" {
		return 0, false
	}

	f := v.FieldByName("Number")
	if !f.IsValid() || f.Kind() != reflect.Uint16 {
		return 0, false
	}

	n := f.Uint()
	if n > math.MaxUint16 {
		return 0, false
	}

	return uint16(n), true
}

// walk calls visit on err and every error it wraps, depth first,
// until visit returns false.
func walk(err error, visit func(error) bool) bool {
	if err == nil {
		return true
	}

	if !visit(err) {
		return false
	}

	if u, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range u.Unwrap() {
			if !walk(e, visit) {
				return false
			}
		}

		return true
	}

	return walk(errors.Unwrap(err), visit)
}

// isUnique reports whether err is a unique violation.
func isUnique(err error) bool {
	return classify(err) == kindUnique
}

// retryError is a transaction that kept failing with errors that
// mean "try again" until the attempts ran out. It matches
// approval.ErrConflict, since contention outlasted the retries.
type retryError struct {
	attempts int
	err      error
}

func (e *retryError) Error() string {
	return fmt.Sprintf("gave up after %d attempts: %v", e.attempts, e.err)
}

func (e *retryError) Unwrap() error {
	return e.err
}

func (e *retryError) Is(target error) bool {
	return target == approval.ErrConflict
}

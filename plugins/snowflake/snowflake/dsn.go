package snowflake

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strconv"
	"strings"
	"time"

	sf "github.com/snowflakedb/gosnowflake"

	"github.com/halfpipe-io/halfpipe/sdk"
)

// lambdaEnv is set in AWS Lambda, where no browser can open.
const lambdaEnv = "AWS_LAMBDA_FUNCTION_NAME"

// resultFormatParam is the session parameter that chooses gosnowflake's
// result format.
const resultFormatParam = "GO_QUERY_RESULT_FORMAT"

// parseDSN turns snowflake://user[:password]@account/database[/schema]
// ?schema=&warehouse=&role=&private_key_file=&authenticator=&token=
// into a driver configuration. Its errors never quote the password.
func parseDSN(dsn string) (*sf.Config, error) {
	u, err := sdk.ParseURL(dsn)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "snowflake" {
		return nil, sdk.InvalidArgumentf("DSN %s: scheme %q, want snowflake", sdk.MaskDSN(dsn), u.Scheme)
	}
	// Results come as JSON, not Arrow (gosnowflake's default): JSON hands
	// a NUMBER over as its exact decimal text, while gosnowflake turns an
	// Arrow NUMBER with a scale into text through a float64, losing digits.
	jsonFormat := "JSON"
	cfg := &sf.Config{Account: u.Host, Params: map[string]*string{resultFormatParam: &jsonFormat}}
	if cfg.Account == "" {
		return nil, sdk.InvalidArgumentf("DSN %s names no account: snowflake://user:password@account/database", sdk.MaskDSN(dsn))
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	if cfg.User == "" {
		return nil, sdk.InvalidArgumentf("DSN %s names no user", sdk.MaskDSN(dsn))
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if parts[0] == "" || len(parts) > 2 {
		return nil, sdk.InvalidArgumentf("DSN %s: the path is /database or /database/schema", sdk.MaskDSN(dsn))
	}
	cfg.Database = parts[0]
	if len(parts) == 2 {
		cfg.Schema = parts[1]
	}
	q := u.Query()
	auth := strings.ToLower(q.Get("authenticator"))
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "schema":
			cfg.Schema = v
		case "warehouse":
			cfg.Warehouse = v
		case "role":
			cfg.Role = v
		case "authenticator":
		case "token":
			cfg.Token = v
		case "private_key_file":
			key, err := readPrivateKey(v)
			if err != nil {
				return nil, err
			}
			cfg.PrivateKey = key
		case "protocol":
			if v != "http" && v != "https" {
				return nil, sdk.InvalidArgumentf("DSN %s: protocol %q, want https (or http for a test server)", sdk.MaskDSN(dsn), v)
			}
			cfg.Protocol = v
		case "host":
			cfg.Host = v
		case "port":
			p, err := strconv.Atoi(v)
			if err != nil || p <= 0 || p > 65535 {
				return nil, sdk.InvalidArgumentf("DSN %s: port %q is not a port number", sdk.MaskDSN(dsn), v)
			}
			cfg.Port = p
		case "login_timeout":
			d, err := strconv.Atoi(v)
			if err != nil {
				return nil, sdk.InvalidArgumentf("DSN %s: login_timeout %q is not a number of seconds", sdk.MaskDSN(dsn), v)
			}
			cfg.LoginTimeout = time.Duration(d) * time.Second
		default:
			return nil, sdk.InvalidArgumentf("DSN %s: unknown parameter %q (schema, warehouse, role, private_key_file, authenticator, token, protocol, host, port, login_timeout)", sdk.MaskDSN(dsn), k)
		}
	}
	switch auth {
	case "", "snowflake":
		switch {
		case cfg.PrivateKey != nil:
			cfg.Authenticator = sf.AuthTypeJwt
		case cfg.Password == "":
			return nil, sdk.InvalidArgumentf("DSN %s has no password: give user:password@, private_key_file= (key-pair) or authenticator=oauth&token=", sdk.MaskDSN(dsn))
		}
	case "snowflake_jwt":
		if cfg.PrivateKey == nil {
			return nil, sdk.InvalidArgumentf("DSN %s: authenticator=snowflake_jwt needs private_key_file=", sdk.MaskDSN(dsn))
		}
		cfg.Authenticator = sf.AuthTypeJwt
	case "oauth":
		if cfg.Token == "" {
			return nil, sdk.InvalidArgumentf("DSN %s: authenticator=oauth needs token=", sdk.MaskDSN(dsn))
		}
		cfg.Authenticator = sf.AuthTypeOAuth
	case "externalbrowser":
		if os.Getenv(lambdaEnv) != "" {
			return nil, sdk.InvalidArgumentf("DSN %s: authenticator=externalbrowser opens a web browser, which AWS Lambda does not have: use key-pair authentication (private_key_file=) or an OAuth token", sdk.MaskDSN(dsn))
		}
		cfg.Authenticator = sf.AuthTypeExternalBrowser
	default:
		return nil, sdk.InvalidArgumentf("DSN %s: authenticator %q: want snowflake, snowflake_jwt, oauth or externalbrowser", sdk.MaskDSN(dsn), auth)
	}
	if cfg.Token != "" && cfg.Authenticator != sf.AuthTypeOAuth {
		return nil, sdk.InvalidArgumentf("DSN %s: token= is for authenticator=oauth", sdk.MaskDSN(dsn))
	}
	return cfg, nil
}

// readPrivateKey reads an unencrypted PKCS#8 (or PKCS#1) RSA key in PEM,
// as `openssl genrsa 2048 | openssl pkcs8 -topk8 -nocrypt` writes it.
func readPrivateKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, sdk.InvalidArgumentf("private_key_file: %v", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, sdk.InvalidArgumentf("private_key_file %s holds no PEM block", path)
	}
	if blk.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, sdk.InvalidArgumentf("private_key_file %s is encrypted: hp reads unencrypted PKCS#8 keys (openssl pkcs8 -topk8 -nocrypt); keep the file readable by hp only", path)
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, sdk.InvalidArgumentf("private_key_file %s: %v", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, sdk.InvalidArgumentf("private_key_file %s: a %T, Snowflake key-pair authentication takes RSA keys", path, k)
	}
	return rk, nil
}

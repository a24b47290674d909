package snowflake

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// verifyJWT checks a key-pair login token as Snowflake does: RS256 signed
// by the user's key, issued by ACCOUNT.USER.SHA256:<fingerprint of the
// public key>, for subject ACCOUNT.USER, and not expired.
func verifyJWT(token string, pub *rsa.PublicKey, account, user string) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("not a JWT")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return err
	}
	if header.Alg != "RS256" {
		return fmt.Errorf("algorithm %q, want RS256", header.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
		return errors.New("signature does not verify with the user's public key")
	}
	var claims struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	fp := sha256.Sum256(der)
	who := strings.ToUpper(account) + "." + strings.ToUpper(user)
	if want := who + ".SHA256:" + base64.StdEncoding.EncodeToString(fp[:]); claims.Iss != want {
		return fmt.Errorf("issuer %q, want %q", claims.Iss, want)
	}
	if claims.Sub != who {
		return fmt.Errorf("subject %q, want %q", claims.Sub, who)
	}
	if time.Now().Unix() > claims.Exp {
		return errors.New("token expired")
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("JWT segment: %w", err)
	}
	return json.Unmarshal(b, v)
}

// jwtUser is the user a token's subject (ACCOUNT.USER) names, unverified.
func jwtUser(token string) string {
	parts := strings.Split(token, ".")
	var claims struct {
		Sub string `json:"sub"`
	}
	if len(parts) != 3 || decodeSegment(parts[1], &claims) != nil {
		return ""
	}
	_, user, _ := strings.Cut(claims.Sub, ".")
	return user
}

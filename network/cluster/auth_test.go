package cluster_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saxsdog/saxs/network/cluster"
)

// startNATS runs a NATS server configured by opts on 127.0.0.1 until the
// test ends and returns its client URL.
func startNATS(t *testing.T, opts *server.Options) string {
	t.Helper()
	opts.Host, opts.Port, opts.NoLog, opts.NoSigs = "127.0.0.1", -1, true, true
	s, err := server.NewServer(opts)
	require.NoError(t, err)
	go s.Start()
	t.Cleanup(s.Shutdown)
	require.True(t, s.ReadyForConnections(10*time.Second), "NATS server not ready")
	return s.ClientURL()
}

// TestNKeyPassedThrough: a NATS server that knows one nkey user accepts
// --nats-nkey with that user's seed and refuses another seed or none.
func TestNKeyPassedThrough(t *testing.T) {
	dir := t.TempDir()
	user, err := nkeys.CreateUser()
	require.NoError(t, err)
	pub, err := user.PublicKey()
	require.NoError(t, err)
	url := startNATS(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})

	seedFile := func(name string, kp nkeys.KeyPair) string {
		seed, err := kp.Seed()
		require.NoError(t, err)
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, seed, 0o600))
		return p
	}
	nc, err := cluster.Connect(cluster.ConnectOptions{URL: url, NKey: seedFile("user.nk", user)})
	require.NoError(t, err)
	require.NoError(t, nc.Publish("saxs.test", []byte("x")))
	nc.Close()

	other, err := nkeys.CreateUser()
	require.NoError(t, err)
	_, err = cluster.Connect(cluster.ConnectOptions{URL: url, NKey: seedFile("other.nk", other)})
	assert.Error(t, err, "a seed the server does not know")
	_, err = cluster.Connect(cluster.ConnectOptions{URL: url})
	assert.Error(t, err, "no credentials")
	_, err = cluster.Connect(cluster.ConnectOptions{URL: url, NKey: filepath.Join(dir, "missing.nk")})
	assert.Error(t, err, "a missing seed file")
}

// TestCredsPassedThrough: a NATS server in operator mode (operator,
// account and user JWTs made here with nats-io/jwt) accepts --nats-creds
// with the user's credentials file and refuses the file of a user the
// account did not sign.
func TestCredsPassedThrough(t *testing.T) {
	dir := t.TempDir()
	op, err := nkeys.CreateOperator()
	require.NoError(t, err)
	opPub, err := op.PublicKey()
	require.NoError(t, err)
	opClaims := jwt.NewOperatorClaims(opPub)
	_, err = opClaims.Encode(op) // signs and fills in the claims' issuer
	require.NoError(t, err)
	acct, err := nkeys.CreateAccount()
	require.NoError(t, err)
	acctPub, err := acct.PublicKey()
	require.NoError(t, err)
	acctJWT, err := jwt.NewAccountClaims(acctPub).Encode(op)
	require.NoError(t, err)
	resolver := &server.MemAccResolver{}
	require.NoError(t, resolver.Store(acctPub, acctJWT))
	url := startNATS(t, &server.Options{TrustedOperators: []*jwt.OperatorClaims{opClaims}, AccountResolver: resolver})

	creds := func(name string, signer nkeys.KeyPair) string {
		u, err := nkeys.CreateUser()
		require.NoError(t, err)
		pub, err := u.PublicKey()
		require.NoError(t, err)
		uc := jwt.NewUserClaims(pub)
		uc.IssuerAccount = acctPub
		ujwt, err := uc.Encode(signer)
		require.NoError(t, err)
		seed, err := u.Seed()
		require.NoError(t, err)
		b, err := jwt.FormatUserConfig(ujwt, seed)
		require.NoError(t, err)
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, b, 0o600))
		return p
	}
	nc, err := cluster.Connect(cluster.ConnectOptions{URL: url, Creds: creds("user.creds", acct)})
	require.NoError(t, err)
	require.NoError(t, nc.Publish("saxs.test", []byte("x")))
	nc.Close()

	stranger, err := nkeys.CreateAccount()
	require.NoError(t, err)
	_, err = cluster.Connect(cluster.ConnectOptions{URL: url, Creds: creds("stranger.creds", stranger)})
	assert.Error(t, err, "a user signed by another account")
	_, err = cluster.Connect(cluster.ConnectOptions{URL: url})
	assert.Error(t, err, "no credentials")
}

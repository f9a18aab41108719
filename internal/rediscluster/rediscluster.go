// Package rediscluster starts throwaway Redis deployments on loopback for
// tests: a Redis Cluster (masters with replicas, made by redis-cli --cluster
// create) and a Sentinel-managed master with a replica. Each runs from a
// temporary directory, on free ports, without persistence, and is torn down
// (processes killed, directory removed) when the test ends. A test helper:
// it imports nothing of ours; only tests import it.
//
// It needs redis-server and redis-cli on PATH; without them, or under
// -short, Start and StartSentinel skip the test with a message saying so.
// It imports only the standard library and go-redis, so that any package's
// tests (leaf packages included) can use it.
package rediscluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options shape a cluster.
type Options struct {
	Masters  int // default 3
	Replicas int // per master, default 1
	// NodeTimeout is cluster-node-timeout: how long a master may be
	// unreachable before its replica takes over (default 2s).
	NodeTimeout time.Duration
	// PartialCoverage sets cluster-require-full-coverage no: while a dead
	// master's slots wait for its replica, the other slots are served
	// (with the default, every node answers CLUSTERDOWN meanwhile).
	PartialCoverage bool
}

// Node is one redis-server process.
type Node struct {
	Port int
	Addr string // 127.0.0.1:Port
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// Cluster is a running Redis Cluster.
type Cluster struct {
	Nodes []*Node // masters first as created; roles change on failover
	dir   string
	mu    sync.Mutex
}

// Available says why a deployment cannot be started here, or "".
func Available() string {
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			return bin + " is not installed (apt-get install redis-server)"
		}
	}
	return ""
}

// Start starts a cluster for t and stops it when t ends. It skips t under
// -short or when Redis is not installed.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	skipIfUnavailable(t)
	c, err := New(context.Background(), o)
	if err != nil {
		t.Fatalf("starting a redis cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func skipIfUnavailable(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("redis cluster/sentinel tests are skipped with -short")
	}
	if why := Available(); why != "" {
		t.Skip("redis cluster/sentinel tests skipped: " + why)
	}
}

// New starts a cluster; Close stops it. Tests use Start; New is for a
// TestMain that shares one cluster between the tests of a package.
func New(ctx context.Context, o Options) (c *Cluster, err error) {
	if o.Masters <= 0 {
		o.Masters = 3
	}
	if o.Replicas < 0 {
		o.Replicas = 0
	} else if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.NodeTimeout <= 0 {
		o.NodeTimeout = 2 * time.Second
	}
	dir, err := os.MkdirTemp("", "rediscluster-")
	if err != nil {
		return nil, fmt.Errorf("creating the cluster's directory: %w", err)
	}
	c = &Cluster{dir: dir}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	n := o.Masters * (1 + o.Replicas)
	for range n {
		port, bus, err := freePorts()
		if err != nil {
			return c, err
		}
		coverage := "yes"
		if o.PartialCoverage {
			coverage = "no"
		}
		nd, err := startServer(ctx, dir, port,
			"--cluster-enabled", "yes",
			"--cluster-require-full-coverage", coverage,
			"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", port)),
			"--cluster-port", strconv.Itoa(bus),
			"--cluster-node-timeout", strconv.FormatInt(o.NodeTimeout.Milliseconds(), 10),
			// A replica takes over however long it was cut off: tests kill
			// masters right after writing.
			"--cluster-replica-validity-factor", "0",
		)
		if err != nil {
			return c, err
		}
		c.Nodes = append(c.Nodes, nd)
	}
	args := []string{"--cluster", "create"}
	for _, nd := range c.Nodes {
		args = append(args, nd.Addr)
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(o.Replicas), "--cluster-yes")
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(cctx, "redis-cli", args...).CombinedOutput(); err != nil {
		return c, fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out)
	}
	if err := c.WaitOK(cctx); err != nil {
		return c, err
	}
	return c, nil
}

// Dir is the cluster's temporary directory (node logs are there).
func (c *Cluster) Dir() string { return c.dir }

// Addrs are the addresses of all nodes.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, nd := range c.Nodes {
		out[i] = nd.Addr
	}
	return out
}

// URL is the gateway's URL form for this cluster (ussd.NewRedisClient):
// redis+cluster://first?addr=second&addr=...
func (c *Cluster) URL() string {
	var b strings.Builder
	b.WriteString("redis+cluster://" + c.Nodes[0].Addr)
	for i, nd := range c.Nodes[1:] {
		if i == 0 {
			b.WriteString("?")
		} else {
			b.WriteString("&")
		}
		b.WriteString("addr=" + nd.Addr)
	}
	return b.String()
}

// Client returns a new cluster client over all nodes; the caller closes it.
func (c *Cluster) Client() *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
}

// node finds the node of addr.
func (c *Cluster) node(addr string) *Node {
	for _, nd := range c.Nodes {
		if nd.Addr == addr {
			return nd
		}
	}
	return nil
}

// alive are the nodes whose process runs.
func (c *Cluster) alive() []*Node {
	var out []*Node
	for _, nd := range c.Nodes {
		select {
		case <-nd.done:
		default:
			out = append(out, nd)
		}
	}
	return out
}

// WaitOK waits until every live node reports cluster_state:ok with all
// 16384 slots served, agrees on who serves them, and every replica's link
// to its master is up.
func (c *Cluster) WaitOK(ctx context.Context) error {
	var last string
	for {
		last = c.check(ctx)
		if last == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis cluster not ready: %s: %w", last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// check returns "" when the cluster is ready, else what is not.
func (c *Cluster) check(ctx context.Context) string {
	var masters string
	alive := c.alive()
	for _, nd := range alive {
		cl := redis.NewClient(&redis.Options{Addr: nd.Addr, MaxRetries: -1, DialTimeout: time.Second})
		info, err := cl.ClusterInfo(ctx).Result()
		if err != nil {
			cl.Close()
			return nd.Addr + ": " + err.Error()
		}
		if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
			cl.Close()
			return nd.Addr + " cluster_state not ok"
		}
		m, named, err := layout(ctx, cl)
		if err != nil {
			cl.Close()
			return nd.Addr + ": " + err.Error()
		}
		for _, other := range alive {
			if !named[other.Addr] {
				cl.Close()
				return nd.Addr + " does not list " + other.Addr + " yet"
			}
		}
		if masters == "" {
			masters = m
		} else if m != masters {
			cl.Close()
			return nd.Addr + " disagrees on the layout"
		}
		repl, err := cl.Info(ctx, "replication").Result()
		cl.Close()
		if err != nil {
			return nd.Addr + ": " + err.Error()
		}
		if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
			return nd.Addr + " replica link down"
		}
	}
	return ""
}

// shards returns one node's view of the shards that serve slots, sorted
// by first slot, with only the nodes it sees online.
func shards(ctx context.Context, cl *redis.Client) ([]redis.ClusterShard, error) {
	all, err := cl.ClusterShards(ctx).Result()
	if err != nil {
		return nil, err
	}
	var out []redis.ClusterShard
	for _, sh := range all {
		if len(sh.Slots) == 0 {
			continue
		}
		var online []redis.Node
		for _, n := range sh.Nodes {
			if n.Health == "online" {
				online = append(online, n)
			}
		}
		sh.Nodes = online
		out = append(out, sh)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slots[0].Start < out[j].Slots[0].Start })
	return out, nil
}

func addrOf(n redis.Node) string { return fmt.Sprintf("%s:%d", n.IP, n.Port) }

// layout describes one node's view of the cluster ("start-end:master
// replica,...;" per shard) and the set of online nodes it names.
func layout(ctx context.Context, cl *redis.Client) (string, map[string]bool, error) {
	shs, err := shards(ctx, cl)
	if err != nil {
		return "", nil, err
	}
	var b strings.Builder
	named := map[string]bool{}
	for _, sh := range shs {
		for _, r := range sh.Slots {
			fmt.Fprintf(&b, "%d-%d,", r.Start, r.End)
		}
		b.WriteString(":")
		masters := 0
		for _, n := range sh.Nodes {
			if n.Role == "master" {
				masters++
			}
			fmt.Fprintf(&b, "%s %s,", addrOf(n), n.Role)
			named[addrOf(n)] = true
		}
		if masters != 1 {
			return "", nil, fmt.Errorf("a shard with %d online masters", masters)
		}
		b.WriteString(";")
	}
	return b.String(), named, nil
}

// Masters returns the addresses of the masters serving slots, as the
// first live node sees them.
func (c *Cluster) Masters(ctx context.Context) ([]string, error) {
	return c.role(ctx, "master")
}

// Replicas returns the addresses of the live replicas.
func (c *Cluster) Replicas(ctx context.Context) ([]string, error) {
	return c.role(ctx, "replica")
}

func (c *Cluster) role(ctx context.Context, role string) ([]string, error) {
	for _, nd := range c.alive() {
		cl := redis.NewClient(&redis.Options{Addr: nd.Addr, MaxRetries: -1})
		shs, err := shards(ctx, cl)
		cl.Close()
		if err != nil {
			continue
		}
		var out []string
		for _, sh := range shs {
			for _, n := range sh.Nodes {
				if n.Role == role && c.node(addrOf(n)) != nil {
					out = append(out, addrOf(n))
				}
			}
		}
		return out, nil
	}
	return nil, errors.New("no live node answers CLUSTER SHARDS")
}

// ReplicaOf returns a live replica of the master at addr.
func (c *Cluster) ReplicaOf(ctx context.Context, master string) (string, error) {
	for _, nd := range c.alive() {
		cl := redis.NewClient(&redis.Options{Addr: nd.Addr, MaxRetries: -1})
		shs, err := shards(ctx, cl)
		cl.Close()
		if err != nil {
			continue
		}
		for _, sh := range shs {
			var rep string
			found := false
			for _, n := range sh.Nodes {
				switch {
				case n.Role == "master" && addrOf(n) == master:
					found = true
				case n.Role == "replica" && rep == "":
					rep = addrOf(n)
				}
			}
			if found && rep != "" {
				return rep, nil
			}
		}
		return "", fmt.Errorf("master %s has no live replica", master)
	}
	return "", errors.New("no live node answers CLUSTER SHARDS")
}

// Failover asks the replica at addr to take over from its master (CLUSTER
// FAILOVER: coordinated, no write lost) and returns once it is master.
func (c *Cluster) Failover(ctx context.Context, replica string) error {
	cl := redis.NewClient(&redis.Options{Addr: replica, MaxRetries: -1})
	defer cl.Close()
	if err := cl.Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
		return fmt.Errorf("cluster failover on %s: %w", replica, err)
	}
	for {
		role, err := cl.Do(ctx, "ROLE").Slice()
		if err == nil && len(role) > 0 && role[0] == "master" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not become master: %w", replica, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Kill kills the node at addr with SIGKILL, as a crash would, and waits
// for the process to end.
func (c *Cluster) Kill(addr string) error {
	nd := c.node(addr)
	if nd == nil {
		return fmt.Errorf("no node at %s", addr)
	}
	nd.kill()
	return nil
}

// Restart starts again the killed node at addr, with its nodes.conf, so it
// rejoins the cluster (as a replica of whoever took its slots).
func (c *Cluster) Restart(ctx context.Context, addr string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	nd := c.node(addr)
	if nd == nil {
		return fmt.Errorf("no node at %s", addr)
	}
	<-nd.done
	args := nd.cmd.Args[1:]
	fresh, err := startServerArgs(ctx, c.dir, nd.Port, args)
	if err != nil {
		return err
	}
	*nd = *fresh
	return nil
}

// Close kills every node and removes the directory.
func (c *Cluster) Close() {
	for _, nd := range c.Nodes {
		nd.kill()
	}
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

// Log returns the tail of the node's log, for failure messages.
func (c *Cluster) Log(addr string) string {
	nd := c.node(addr)
	if nd == nil {
		return ""
	}
	return tail(filepath.Join(c.dir, fmt.Sprintf("redis-%d.log", nd.Port)), 30)
}

func tail(file string, n int) string {
	f, err := os.Open(file)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// startServer starts redis-server on port with the common options plus
// extra, and waits until it answers PING.
func startServer(ctx context.Context, dir string, port int, extra ...string) (*Node, error) {
	args := append([]string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--logfile", filepath.Join(dir, fmt.Sprintf("redis-%d.log", port)),
		"--daemonize", "no",
	}, extra...)
	return startServerArgs(ctx, dir, port, args)
}

func startServerArgs(ctx context.Context, dir string, port int, args []string) (*Node, error) {
	cmd := exec.Command("redis-server", args...)
	cmd.Dir = dir
	// Its own process group, so that a fork (a replication child) goes
	// with it when it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting redis-server on port %d: %w", port, err)
	}
	nd := &Node{Port: port, Addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(nd.done) }()
	cl := redis.NewClient(&redis.Options{Addr: nd.Addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer cl.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := cl.Ping(ctx).Err(); err == nil {
			return nd, nil
		}
		select {
		case <-nd.done:
			return nil, fmt.Errorf("redis-server on port %d exited:\n%s", port, tail(filepath.Join(dir, fmt.Sprintf("redis-%d.log", port)), 20))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			nd.kill()
			return nil, fmt.Errorf("redis-server on port %d does not answer", port)
		}
	}
}

func (nd *Node) kill() {
	if nd == nil || nd.cmd == nil || nd.cmd.Process == nil {
		return
	}
	select {
	case <-nd.done:
		return
	default:
	}
	syscall.Kill(-nd.cmd.Process.Pid, syscall.SIGKILL)
	<-nd.done
}

// freePorts returns a free port for a server and another for its cluster
// bus. Another process may take one before the server binds it; the
// chance is small on a test machine and the start then fails loudly.
func freePorts() (int, int, error) {
	var ports []int
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, fmt.Errorf("finding a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports[0], ports[1], nil
}

// Sentinel is a Sentinel-managed deployment: a master, a replica and three
// sentinels watching them under the name MasterName.
type Sentinel struct {
	MasterName string
	Data       []*Node // the master as started, then the replica
	Sentinels  []*Node
	dir        string
}

// StartSentinel starts a master, a replica and three sentinels (quorum 2,
// down-after 1 s) for t and stops them when t ends. It skips t under
// -short or when Redis is not installed.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	skipIfUnavailable(t)
	s, err := NewSentinel(context.Background())
	if err != nil {
		t.Fatalf("starting redis sentinel: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// NewSentinel starts a Sentinel deployment; Close stops it.
func NewSentinel(ctx context.Context) (s *Sentinel, err error) {
	dir, err := os.MkdirTemp("", "redissentinel-")
	if err != nil {
		return nil, fmt.Errorf("creating the sentinel's directory: %w", err)
	}
	s = &Sentinel{MasterName: "mymaster", dir: dir}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	mport, _, err := freePorts()
	if err != nil {
		return s, err
	}
	master, err := startServer(ctx, dir, mport)
	if err != nil {
		return s, err
	}
	rport, _, err := freePorts()
	if err != nil {
		return s, err
	}
	replica, err := startServer(ctx, dir, rport, "--replicaof", "127.0.0.1", strconv.Itoa(mport))
	if err != nil {
		return s, err
	}
	s.Data = []*Node{master, replica}
	for range 3 {
		port, _, err := freePorts()
		if err != nil {
			return s, err
		}
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", port))
		name := s.MasterName
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n", port, dir, filepath.Join(dir, fmt.Sprintf("redis-%d.log", port))) +
			fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 2\n", name, mport) +
			fmt.Sprintf("sentinel down-after-milliseconds %s 1000\n", name) +
			fmt.Sprintf("sentinel failover-timeout %s 10000\n", name) +
			fmt.Sprintf("sentinel parallel-syncs %s 1\n", name)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			return s, fmt.Errorf("writing %s: %w", conf, err)
		}
		nd, err := startServerArgs(ctx, dir, port, []string{conf, "--sentinel"})
		if err != nil {
			return s, err
		}
		s.Sentinels = append(s.Sentinels, nd)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return s, s.wait(wctx, func(ctx context.Context) string {
		for _, sn := range s.Sentinels {
			cl := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr, MaxRetries: -1})
			reps, err1 := cl.Replicas(ctx, s.MasterName).Result()
			sens, err2 := cl.Sentinels(ctx, s.MasterName).Result()
			cl.Close()
			if err := errors.Join(err1, err2); err != nil {
				return sn.Addr + ": " + err.Error()
			}
			if len(reps) != 1 || len(sens) != 2 {
				return sn.Addr + " does not see the replica and the other sentinels yet"
			}
		}
		return linkUp(ctx, replica.Addr)
	})
}

// linkUp returns "" when the replica at addr is synced with its master.
func linkUp(ctx context.Context, addr string) string {
	cl := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer cl.Close()
	repl, err := cl.Info(ctx, "replication").Result()
	if err != nil {
		return addr + ": " + err.Error()
	}
	if !strings.Contains(repl, "master_link_status:up") {
		return addr + " replica link down"
	}
	return ""
}

func (s *Sentinel) wait(ctx context.Context, check func(context.Context) string) error {
	for {
		last := check(ctx)
		if last == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis sentinel not ready: %s: %w", last, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URL is the gateway's URL form for this deployment (ussd.NewRedisClient):
// redis://sentinel1?master_name=mymaster&addr=sentinel2&addr=sentinel3
func (s *Sentinel) URL() string {
	u := "redis://" + s.Sentinels[0].Addr + "?master_name=" + s.MasterName
	for _, sn := range s.Sentinels[1:] {
		u += "&addr=" + sn.Addr
	}
	return u
}

// Master asks the first live sentinel which node is the master.
func (s *Sentinel) Master(ctx context.Context) (string, error) {
	var lastErr error
	for _, sn := range s.Sentinels {
		cl := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr, MaxRetries: -1})
		a, err := cl.GetMasterAddrByName(ctx, s.MasterName).Result()
		cl.Close()
		if err == nil && len(a) == 2 {
			return a[0] + ":" + a[1], nil
		}
		lastErr = err
	}
	return "", fmt.Errorf("no sentinel names the master: %w", lastErr)
}

// KillMaster kills the current master with SIGKILL and returns its address.
func (s *Sentinel) KillMaster(ctx context.Context) (string, error) {
	m, err := s.Master(ctx)
	if err != nil {
		return "", err
	}
	for _, nd := range s.Data {
		if nd.Addr == m {
			nd.kill()
			return m, nil
		}
	}
	return "", fmt.Errorf("the master %s is none of ours", m)
}

// WaitNewMaster waits until every sentinel names a master other than old
// and that node answers as master.
func (s *Sentinel) WaitNewMaster(ctx context.Context, old string) error {
	return s.wait(ctx, func(ctx context.Context) string {
		var m string
		for _, sn := range s.Sentinels {
			cl := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr, MaxRetries: -1})
			a, err := cl.GetMasterAddrByName(ctx, s.MasterName).Result()
			cl.Close()
			if err != nil || len(a) != 2 {
				return sn.Addr + " names no master"
			}
			got := a[0] + ":" + a[1]
			if got == old {
				return sn.Addr + " still names " + old
			}
			if m != "" && got != m {
				return "the sentinels disagree"
			}
			m = got
		}
		cl := redis.NewClient(&redis.Options{Addr: m, MaxRetries: -1})
		defer cl.Close()
		role, err := cl.Do(ctx, "ROLE").Slice()
		if err != nil || len(role) == 0 || role[0] != "master" {
			return m + " is not master yet"
		}
		return ""
	})
}

// Close kills every process and removes the directory.
func (s *Sentinel) Close() {
	for _, nd := range append(append([]*Node(nil), s.Sentinels...), s.Data...) {
		nd.kill()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// podnet is wasm-lab's pod network daemon for kind clusters built from the offline kit.
//
// It runs on every node (a host-network DaemonSet) and does three things, over and over:
//
//   - writes this node's CNI configuration: a ptp veth per pod, addresses from the node's
//     spec.podCIDR (host-local IPAM), plus portmap for hostPort;
//   - keeps one route per other node: its podCIDR via its InternalIP (all nodes share one L2
//     network, the container network kind puts them on);
//   - masquerades traffic from pods to anything outside the cluster's pod network.
//
// It talks to the API server with nothing but the standard library: a GET of /api/v1/nodes with
// the pod's service-account token, and runs `ip` and `iptables` for the node's network.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

const (
	saDir     = "/var/run/secrets/kubernetes.io/serviceaccount"
	masqChain = "PODNET-MASQ"
)

type config struct {
	nodeName  string
	podSubnet string // the cluster's pod network (all nodes' podCIDRs are inside it)
	cniDir    string
	apiServer string // https://host:port
	interval  time.Duration
	mtu       int
}

type nodeList struct {
	Items []node `json:"items"`
}

type node struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		PodCIDR  string   `json:"podCIDR"`
		PodCIDRs []string `json:"podCIDRs"`
	} `json:"spec"`
	Status struct {
		Addresses []struct {
			Type    string `json:"type"`
			Address string `json:"address"`
		} `json:"addresses"`
	} `json:"status"`
}

func (n node) ipv4CIDR() string {
	cidrs := append([]string{n.Spec.PodCIDR}, n.Spec.PodCIDRs...)
	for _, c := range cidrs {
		if ip, _, err := net.ParseCIDR(c); err == nil && ip.To4() != nil {
			return c
		}
	}
	return ""
}

func (n node) internalIPv4() string {
	for _, a := range n.Status.Addresses {
		if ip := net.ParseIP(a.Address); a.Type == "InternalIP" && ip != nil && ip.To4() != nil {
			return a.Address
		}
	}
	return ""
}

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func loadConfig() (config, error) {
	c := config{
		nodeName:  os.Getenv("NODE_NAME"),
		podSubnet: os.Getenv("POD_SUBNET"),
		cniDir:    env("CNI_CONF_DIR", "/etc/cni/net.d"),
		interval:  10 * time.Second,
		mtu:       0,
	}
	if c.nodeName == "" {
		return c, fmt.Errorf("NODE_NAME is not set")
	}
	if _, _, err := net.ParseCIDR(c.podSubnet); err != nil {
		return c, fmt.Errorf("POD_SUBNET %q: %v", c.podSubnet, err)
	}
	// kind adds CONTROL_PLANE_ENDPOINT (host:port) so the daemon need not wait for kube-proxy to
	// program the kubernetes Service; otherwise use the Service like any in-cluster client.
	if ep := os.Getenv("CONTROL_PLANE_ENDPOINT"); ep != "" {
		c.apiServer = "https://" + ep
	} else {
		host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
		if host == "" || port == "" {
			return c, fmt.Errorf("neither CONTROL_PLANE_ENDPOINT nor KUBERNETES_SERVICE_HOST/PORT is set")
		}
		c.apiServer = "https://" + net.JoinHostPort(host, port)
	}
	if d, err := time.ParseDuration(env("RESYNC_INTERVAL", "10s")); err == nil && d > 0 {
		c.interval = d
	}
	return c, nil
}

func apiClient() (*http.Client, error) {
	ca, err := os.ReadFile(filepath.Join(saDir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate in %s/ca.crt", saDir)
	}
	return &http.Client{
		Timeout:   15 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}, nil
}

func listNodes(ctx context.Context, client *http.Client, apiServer string) ([]node, error) {
	token, err := os.ReadFile(filepath.Join(saDir, "token")) // re-read: tokens are rotated
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiServer+"/api/v1/nodes", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/nodes: %s", resp.Status)
	}
	var list nodeList
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// cniConfig is this node's CNI network list.
func cniConfig(podCIDR string, mtu int) []byte {
	ptp := map[string]any{
		"type":   "ptp",
		"ipMasq": false,
		"ipam": map[string]any{
			"type":    "host-local",
			"dataDir": "/run/cni-ipam-state",
			"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
			"ranges":  [][]map[string]string{{{"subnet": podCIDR}}},
		},
	}
	if mtu > 0 {
		ptp["mtu"] = mtu
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "podnet",
		"plugins": []any{
			ptp,
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	out, _ := json.MarshalIndent(conf, "", "  ")
	return append(out, '\n')
}

// writeIfChanged writes atomically (temp file + rename) so the runtime never reads half a file.
func writeIfChanged(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(tmp, path)
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ensureRule appends rule to chain in the nat table unless it is there already.
func ensureRule(chain string, rule ...string) error {
	check := append([]string{"-w", "-t", "nat", "-C", chain}, rule...)
	if exec.Command("iptables", check...).Run() == nil {
		return nil
	}
	return run("iptables", append([]string{"-w", "-t", "nat", "-A", chain}, rule...)...)
}

func ensureMasquerade(podSubnet string) error {
	// -N fails when the chain exists; that is fine.
	_ = exec.Command("iptables", "-w", "-t", "nat", "-N", masqChain).Run()
	steps := [][]string{
		{"POSTROUTING", "-s", podSubnet, "-m", "comment", "--comment", "podnet: pod traffic", "-j", masqChain},
		{masqChain, "-d", podSubnet, "-m", "comment", "--comment", "podnet: stays in the pod network", "-j", "RETURN"},
		{masqChain, "-m", "addrtype", "!", "--dst-type", "LOCAL", "-m", "comment", "--comment", "podnet: leaves the pod network", "-j", "MASQUERADE"},
	}
	for _, s := range steps {
		if err := ensureRule(s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}

type state struct {
	routes map[string]string // podCIDR -> via, as last applied
}

func (s *state) sync(ctx context.Context, c config, client *http.Client) error {
	nodes, err := listNodes(ctx, client, c.apiServer)
	if err != nil {
		return err
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Metadata.Name < nodes[j].Metadata.Name })
	var errs []string
	wanted := map[string]string{}
	for _, n := range nodes {
		cidr := n.ipv4CIDR()
		if cidr == "" {
			continue // not allocated yet
		}
		if n.Metadata.Name == c.nodeName {
			changed, err := writeIfChanged(filepath.Join(c.cniDir, "10-podnet.conflist"), cniConfig(cidr, c.mtu))
			if err != nil {
				errs = append(errs, err.Error())
			} else if changed {
				log.Printf("wrote CNI config for %s (pods in %s)", c.nodeName, cidr)
			}
			continue
		}
		if ip := n.internalIPv4(); ip != "" {
			wanted[cidr] = ip
		}
	}
	for cidr, via := range wanted {
		if err := run("ip", "route", "replace", cidr, "via", via); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if s.routes[cidr] != via {
			log.Printf("route %s via %s", cidr, via)
		}
	}
	for cidr := range s.routes {
		if _, ok := wanted[cidr]; !ok {
			if err := run("ip", "route", "del", cidr); err != nil {
				log.Printf("removing route %s: %v", cidr, err)
			} else {
				log.Printf("removed route %s", cidr)
			}
		}
	}
	s.routes = wanted
	if err := ensureMasquerade(c.podSubnet); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	c, err := loadConfig()
	if err != nil {
		log.Fatalf("podnet: %v", err)
	}
	client, err := apiClient()
	if err != nil {
		log.Fatalf("podnet: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Printf("podnet on %s: pod network %s, API server %s", c.nodeName, c.podSubnet, c.apiServer)
	s := &state{routes: map[string]string{}}
	ticker := time.NewTicker(c.interval)
	defer ticker.Stop()
	for {
		if err := s.sync(ctx, c, client); err != nil {
			log.Printf("sync: %v", err)
		}
		select {
		case <-ctx.Done():
			log.Printf("podnet: stopping")
			return
		case <-ticker.C:
		}
	}
}

package main

import (
	"encoding/json"
	"testing"
)

func TestCNIConfigUsesThePodCIDR(t *testing.T) {
	var conf struct {
		Name    string           `json:"name"`
		Plugins []map[string]any `json:"plugins"`
	}
	if err := json.Unmarshal(cniConfig("10.244.1.0/24", 0), &conf); err != nil {
		t.Fatal(err)
	}
	if conf.Name != "podnet" || len(conf.Plugins) != 2 {
		t.Fatalf("unexpected config %+v", conf)
	}
	ranges := conf.Plugins[0]["ipam"].(map[string]any)["ranges"].([]any)
	subnet := ranges[0].([]any)[0].(map[string]any)["subnet"]
	if subnet != "10.244.1.0/24" {
		t.Fatalf("subnet %v", subnet)
	}
	if conf.Plugins[1]["type"] != "portmap" {
		t.Fatalf("second plugin %v", conf.Plugins[1]["type"])
	}
}

func TestNodeAddressesPickIPv4(t *testing.T) {
	var n node
	raw := `{"metadata":{"name":"w"},"spec":{"podCIDR":"fd00::/64","podCIDRs":["fd00::/64","10.244.2.0/24"]},
	"status":{"addresses":[{"type":"Hostname","address":"w"},{"type":"InternalIP","address":"fc00::3"},{"type":"InternalIP","address":"172.18.0.3"}]}}`
	if err := json.Unmarshal([]byte(raw), &n); err != nil {
		t.Fatal(err)
	}
	if got := n.ipv4CIDR(); got != "10.244.2.0/24" {
		t.Fatalf("ipv4CIDR = %q", got)
	}
	if got := n.internalIPv4(); got != "172.18.0.3" {
		t.Fatalf("internalIPv4 = %q", got)
	}
}

import type { CniConflist } from './cni.js'
import type { BridgeNetwork } from '../types.js'

/** Pure: the CNI conflist (spec 1.0.0) of a bridge network, as podman's CNI
 *  backend writes it: bridge (gateway on the host bridge, outbound masquerade,
 *  hairpin so a container reaches its own published port) with host-local IPAM
 *  taking the address chosen above the runtime (`ips` capability), portmap for
 *  published ports (only when there are any: one spawn less per start), and
 *  firewall so forwarding is allowed even where the FORWARD policy is DROP
 *  (dockerd sets it so). */
export function bridgeConflist(n: BridgeNetwork, o: { ipamDir: string; ports: boolean }): CniConflist {
  return {
    cniVersion: '1.0.0',
    name: n.name,
    plugins: [
      {
        type: 'bridge',
        bridge: n.bridge,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: n.subnet, gateway: n.gateway }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: o.ipamDir,
        },
        capabilities: { ips: true },
      },
      ...(o.ports ? [{ type: 'portmap', snat: true, capabilities: { portMappings: true } }] : []),
      { type: 'firewall', backend: 'iptables' },
    ],
  }
}

/** Pure: CNI's runtimeConfig for one container: its address, its published ports. */
export function runtimeConfig(ip: string, prefix: number, ports: readonly { hostIp: string; hostPort: number; containerPort: number; protocol: string }[]): Record<string, unknown> {
  return {
    ips: [`${ip}/${prefix}`],
    // all interfaces: no hostIP at all (portmap matches an explicit 0.0.0.0 literally)
    ...(ports.length ? { portMappings: ports.map((p) => ({ ...(p.hostIp === '0.0.0.0' ? {} : { hostIP: p.hostIp }), hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol })) } : {}),
  }
}

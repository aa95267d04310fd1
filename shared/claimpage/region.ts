/**
 * Where a client IP is: the IP-region library `ip2region` (npm, MIT) with the data files it ships
 * (`ip2region.db` for IPv4, `ipv6wry.db` for IPv6: country / province / city / ISP in Chinese, the
 * names campaigns' `regions` use). scripts/build.ts puts both files beside claimPage's bundle; they
 * are read once per instance (about 11 MB in memory), on the first lookup, never at cold start.
 * Private, loopback and unknown addresses answer null: such a client is outside every region
 * unless a campaign's `allowedCidrs` override says otherwise.
 */
import path from 'node:path';
import { isIP } from 'node:net';
import IP2Region from 'ip2region';
import type { IpRegion } from '../claims/campaign';

export type RegionLookup = (ip: string | undefined) => IpRegion | null;

export const REGION_DATA_FILES = { ipv4: 'ip2region.db', ipv6: 'ipv6wry.db' } as const;

/** A lookup over the data files in `dataDir` (the bundle's folder in a function). */
export function ipRegionLookup(dataDir: string): RegionLookup {
  let searcher: IP2Region | null = null;
  return (ip) => {
    if (ip === undefined || isIP(ip) === 0) return null;
    searcher ??= new IP2Region({ ipv4db: path.join(dataDir, REGION_DATA_FILES.ipv4), ipv6db: path.join(dataDir, REGION_DATA_FILES.ipv6) });
    const found = searcher.search(ip);
    if (found === null || found.country === '' || found.city === '内网IP') return null;
    return { country: found.country, province: found.province, city: found.city };
  };
}

//! Where a webhook may be sent: not to loopback, private, link-local or
//! other internal addresses unless the operator allows it. The address
//! checked is the one connected to (the client is pinned to it), so a DNS
//! answer cannot change between the check and the request.

use std::net::{IpAddr, SocketAddr};

fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| internal(IpAddr::V4(v4)))
        }
    }
}

/// The URL's host and the address to connect to, refused when internal
/// (unless `allow_internal`).
pub async fn resolve(url: &url::Url, allow_internal: bool) -> Result<(String, SocketAddr), String> {
    if !matches!(url.scheme(), "https" | "http") {
        return Err("webhook URLs are http or https".into());
    }
    let host = url.host_str().ok_or("the URL has no host")?.to_string();
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let lookup_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((lookup_host.as_str(), port))
        .await
        .map_err(|e| format!("{host} does not resolve: {e}"))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| format!("{host} has no address"))?;
    if !allow_internal {
        if let Some(bad) = addrs.iter().find(|a| internal(a.ip())) {
            return Err(format!(
                "{host} resolves to {}, an internal address",
                bad.ip()
            ));
        }
    }
    Ok((host, first))
}

#[cfg(test)]
mod tests {
    use super::internal;

    #[test]
    fn internal_addresses_are_recognised() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(internal(a.parse().unwrap()), "{a}");
        }
        for a in ["93.184.216.34", "2606:2800:220:1::1", "8.8.8.8"] {
            assert!(!internal(a.parse().unwrap()), "{a}");
        }
    }
}

//! Proving an email domain: a TXT record `idbridge-verification=<token>` on
//! the domain, read with a real DNS resolver (the system's, or the one the
//! `dns_resolver` setting names).

use super::connection_setup::TXT_PREFIX;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::Resolver;
use std::net::SocketAddr;

/// The TXT strings published at `domain` (an empty list when there are none).
pub async fn txt_records(domain: &str, server: &str) -> Result<Vec<String>, String> {
    let builder = if server.trim().is_empty() {
        Resolver::builder_tokio().map_err(|e| format!("no system DNS configuration: {e}"))?
    } else {
        let addr: SocketAddr = server
            .trim()
            .parse()
            .map_err(|e| format!("dns_resolver {server:?} is not ip:port: {e}"))?;
        let mut udp = ConnectionConfig::udp();
        udp.port = addr.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = addr.port();
        let ns = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
        Resolver::builder_with_config(
            ResolverConfig::from_name_servers(vec![ns]),
            TokioRuntimeProvider::default(),
        )
    };
    let resolver = builder.build().map_err(|e| e.to_string())?;
    // Fully qualified: no search-domain guesses.
    let name = format!("{}.", domain.trim_end_matches('.'));
    match resolver.txt_lookup(name).await {
        Ok(lookup) => Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect()),
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(vec![]),
        Err(e) => Err(format!("DNS lookup of {domain} failed: {e}")),
    }
}

/// Whether one of the records carries exactly this domain's token.
pub fn proves(records: &[String], token: &str) -> bool {
    let wanted = format!("{TXT_PREFIX}{token}");
    records.iter().any(|r| r.trim() == wanted)
}

/// A domain as stored: lowercased, no trailing dot, a plausible host name.
pub fn normalise(domain: &str) -> Result<String, String> {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if d.len() > 253 || !d.contains('.') || !d.split('.').all(label_ok) {
        return Err(format!("{domain:?} is not a domain name"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_proves_a_domain() {
        let recs = vec![
            "v=spf1 -all".to_string(),
            "idbridge-verification=abc".to_string(),
        ];
        assert!(proves(&recs, "abc"));
        assert!(!proves(&recs, "ab"));
        assert!(!proves(&["idbridge-verification=abcd".to_string()], "abc"));
    }

    #[test]
    fn domains_are_normalised_or_refused() {
        assert_eq!(normalise(" Corp.Example. ").unwrap(), "corp.example");
        for bad in ["localhost", "a..b", "-a.b", "a b.c", "ex_ample.com", ""] {
            assert!(normalise(bad).is_err(), "{bad}");
        }
    }
}

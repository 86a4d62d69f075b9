//! One certificate order, start to finish (RFC 8555 section 7): open the
//! order, answer each name's challenge, finalize with a fresh key, fetch
//! the chain.

use super::certs::{alpn_answer, Certs};
use super::{AcmeError, Challenge};
use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewOrder, OrderStatus, RetryPolicy,
};
use std::time::Duration;

/// The chain and its key, PEM, ready for the store.
pub async fn order(
    account: &Account,
    domains: &[String],
    challenge: Challenge,
    certs: &Certs,
) -> Result<Vec<u8>, AcmeError> {
    let result = answer_and_finalize(account, domains, challenge, certs).await;
    certs.forget_answers();
    result
}

async fn answer_and_finalize(
    account: &Account,
    domains: &[String],
    challenge: Challenge,
    certs: &Certs,
) -> Result<Vec<u8>, AcmeError> {
    let identifiers: Vec<Identifier> = domains.iter().cloned().map(Identifier::Dns).collect();
    let mut order = account.new_order(&NewOrder::new(&identifiers)).await?;
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz?;
        match authz.status {
            AuthorizationStatus::Pending => {}
            // Still valid from an earlier order: nothing to prove.
            AuthorizationStatus::Valid => continue,
            other => {
                return Err(AcmeError::Refused(format!(
                    "authorization for {} is {other:?}",
                    authz.identifier()
                )))
            }
        }
        let kind = match challenge {
            Challenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
            Challenge::Http01 => ChallengeType::Http01,
        };
        let mut ch = authz
            .challenge(kind.clone())
            .ok_or_else(|| AcmeError::Refused(format!("the directory does not offer {kind:?}")))?;
        let name = ch.identifier().to_string();
        let key_authorization = ch.key_authorization();
        match challenge {
            Challenge::TlsAlpn01 => certs.answer_alpn(
                &name,
                alpn_answer(&name, key_authorization.digest().as_ref())?,
            ),
            Challenge::Http01 => certs.answer_http(&ch.token, key_authorization.as_str()),
        }
        ch.set_ready().await?;
    }
    // Validation connects back to this server; allow a minute for it.
    let patience = RetryPolicy::new()
        .initial_delay(Duration::from_millis(250))
        .backoff(1.5)
        .timeout(Duration::from_secs(60));
    let status = order.poll_ready(&patience).await?;
    if status != OrderStatus::Ready {
        let why = order
            .state()
            .error
            .as_ref()
            .map_or_else(|| format!("{status:?}"), |p| p.to_string());
        return Err(AcmeError::Refused(format!(
            "the order was not validated: {why}"
        )));
    }
    let key_pem = order.finalize().await?;
    let chain_pem = order.poll_certificate(&patience).await?;
    let mut pem = chain_pem.into_bytes();
    if !pem.ends_with(b"\n") {
        pem.push(b'\n');
    }
    pem.extend_from_slice(key_pem.as_bytes());
    Ok(pem)
}

//! idbridge's own signing keys (Ed25519, `EdDSA`), kept in the database so
//! every replica signs with and publishes the same keys. Private keys are
//! sealed with `IDBRIDGE_SECRETS_KEY` when it is set, like IdP client secrets.

use crate::secrets::Sealer;
use crate::store::entities::signing_key;
use crate::store::{new_id, now_ms};
use base64::Engine;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("key error: {0}")]
    Key(String),
}

pub struct SigningKey {
    pub kid: String,
    pub encoding: jsonwebtoken::EncodingKey,
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

async fn insert_new<C: ConnectionTrait>(db: &C, sealer: &Sealer) -> Result<String, KeyError> {
    let sk = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let der = sk
        .to_pkcs8_der()
        .map_err(|e| KeyError::Key(e.to_string()))?;
    let kid = new_id();
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(sk.verifying_key().as_bytes()), "kid": kid, "alg": "EdDSA", "use": "sig"});
    signing_key::ActiveModel {
        kid: Set(kid.clone()),
        alg: Set("EdDSA".into()),
        private_der: Set(sealer
            .seal(&b64(der.as_bytes()))
            .map_err(|e| KeyError::Key(e.to_string()))?),
        public_jwk: Set(jwk.to_string()),
        created_at: Set(now_ms()),
        retired_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(kid)
}

async fn live<C: ConnectionTrait>(db: &C) -> Result<Option<signing_key::Model>, DbErr> {
    signing_key::Entity::find()
        .filter(signing_key::Column::RetiredAt.is_null())
        .order_by_desc(signing_key::Column::CreatedAt)
        .one(db)
        .await
}

/// The current signing key, created on first use.
pub async fn current<C: ConnectionTrait>(db: &C, sealer: &Sealer) -> Result<SigningKey, KeyError> {
    let k = match live(db).await? {
        Some(k) => k,
        None => {
            // Two replicas racing here both insert; the newest wins and both stay published.
            insert_new(db, sealer).await?;
            live(db)
                .await?
                .ok_or_else(|| KeyError::Key("no signing key".into()))?
        }
    };
    let opened = sealer
        .open(&k.private_der)
        .map_err(|e| KeyError::Key(e.to_string()))?;
    let der = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(opened)
        .map_err(|e| KeyError::Key(e.to_string()))?;
    Ok(SigningKey {
        kid: k.kid,
        encoding: jsonwebtoken::EncodingKey::from_ed_der(&der),
    })
}

/// Retires the current key and makes a new one. The old public key stays
/// published while tokens it signed can still be valid (see [`jwks`]).
pub async fn rotate<C: ConnectionTrait>(db: &C, sealer: &Sealer) -> Result<String, KeyError> {
    current(db, sealer).await?;
    signing_key::Entity::update_many()
        .col_expr(
            signing_key::Column::RetiredAt,
            sea_orm::sea_query::Expr::value(now_ms()),
        )
        .filter(signing_key::Column::RetiredAt.is_null())
        .exec(db)
        .await?;
    insert_new(db, sealer).await
}

/// The JWKS: live keys and keys retired less than `keep_ms` ago.
pub async fn jwks<C: ConnectionTrait>(
    db: &C,
    sealer: &Sealer,
    keep_ms: i64,
) -> Result<Value, KeyError> {
    current(db, sealer).await?;
    let rows = signing_key::Entity::find()
        .filter(
            Condition::any()
                .add(signing_key::Column::RetiredAt.is_null())
                .add(signing_key::Column::RetiredAt.gt(now_ms() - keep_ms)),
        )
        .order_by_desc(signing_key::Column::CreatedAt)
        .all(db)
        .await?;
    let keys: Vec<Value> = rows
        .iter()
        .filter_map(|k| serde_json::from_str(&k.public_jwk).ok())
        .collect();
    Ok(json!({"keys": keys}))
}

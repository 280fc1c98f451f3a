//! The `idbridge` command line.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

// glibc's malloc showed in the profiles (malloc, free and their
// consolidation: ~8 % of a SCIM create, ~20 % of a 10k-member PATCH).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod access_cmds;
mod connection_cmds;
mod webhook_cmds;

use access_cmds::{AccountGroupCmd, SupportAccessCmd, SupportAccountCmd};
use clap::{Parser, Subcommand};
/// The command line reports any error and exits non-zero; a boxed error is enough there.
type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
use idbridge::config::Settings;
use idbridge::store::{self, audit, credentials};
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "idbridge",
    version,
    about = "SCIM 2.0 + OIDC provisioning bridge"
)]
struct Cli {
    /// Database URL (sqlite://... or postgres://...).
    #[arg(long, global = true, env = "IDBRIDGE_DATABASE_URL")]
    database_url: Option<String>,
    /// Optional TOML settings file.
    #[arg(long, global = true, env = "IDBRIDGE_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Print one JSON object on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Migrate, then serve HTTP on IDBRIDGE_LISTEN.
    Serve,
    /// Apply database migrations.
    Migrate,
    /// Show the privilege catalog or the built-in roles.
    Catalog {
        #[command(subcommand)]
        what: CatalogCmd,
    },
    /// Accounts.
    Account {
        #[command(subcommand)]
        cmd: AccountCmd,
    },
    /// The break-glass (local) administrator credential.
    BreakGlass {
        #[command(subcommand)]
        cmd: BreakGlassCmd,
    },
    /// Management API keys.
    ApiKey {
        #[command(subcommand)]
        cmd: ApiKeyCmd,
    },
    /// SCIM bearer tokens.
    ScimToken {
        #[command(subcommand)]
        cmd: ScimTokenCmd,
    },
    /// Single sign-on settings of an account.
    Sso {
        #[command(subcommand)]
        cmd: SsoCmd,
    },
    /// SSO connections (OIDC or SAML) of an account and their email domains.
    Connection {
        #[command(subcommand)]
        cmd: connection_cmds::ConnectionCmd,
    },
    /// Webhook endpoints that receive an account's events.
    Webhook {
        #[command(subcommand)]
        cmd: webhook_cmds::WebhookCmd,
    },
    /// idbridge's own token-signing keys.
    Keys {
        #[command(subcommand)]
        cmd: KeysCmd,
    },
    /// Create a ready account with a SCIM token, an API key and break-glass credentials, then serve.
    Demo,
    /// Database maintenance.
    Db {
        #[command(subcommand)]
        cmd: DbCmd,
    },
    /// The account whose users are the platform's support staff.
    SupportAccount {
        #[command(subcommand)]
        cmd: SupportAccountCmd,
    },
    /// Support-access grants of an account.
    SupportAccess {
        #[command(subcommand)]
        cmd: SupportAccessCmd,
    },
    /// Account groups of a parent account.
    AccountGroup {
        #[command(subcommand)]
        cmd: AccountGroupCmd,
    },
}

#[derive(Subcommand)]
enum DbCmd {
    /// Copy everything into an empty database (e.g. SQLite to PostgreSQL) and verify row counts.
    Copy {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand)]
enum SsoCmd {
    /// Configure OIDC sign-in for an account.
    Set {
        #[arg(long)]
        account: String,
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        client_id: String,
        #[arg(long, env = "IDBRIDGE_SSO_CLIENT_SECRET")]
        client_secret: Option<String>,
        /// off, optional or required.
        #[arg(long)]
        mode: Option<String>,
        #[arg(long)]
        groups_claim: Option<String>,
        /// scim, claims or both.
        #[arg(long)]
        role_source: Option<String>,
        /// Extra scopes besides openid email profile (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Create unknown users at sign-in.
        #[arg(long)]
        jit: bool,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Start signing with a new key; the old public key stays published until its tokens expire.
    Rotate,
}

#[derive(Subcommand)]
enum CatalogCmd {
    Privileges,
    Roles,
}

#[derive(Subcommand)]
enum AccountCmd {
    /// Create an account and its break-glass Administrator.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        admin_email: String,
    },
    /// Show an account's features, or turn them on or off.
    Features {
        #[arg(long)]
        account: String,
        #[arg(long)]
        advanced_user_security: Option<bool>,
        #[arg(long)]
        pii_data_insights: Option<bool>,
        #[arg(long)]
        datahub: Option<bool>,
    },
}

#[derive(Subcommand)]
enum BreakGlassCmd {
    /// Rotate the password and TOTP secret.
    Reset {
        #[arg(long)]
        account: String,
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum ApiKeyCmd {
    /// Issue a key acting as the given user (id or email).
    Create {
        #[arg(long)]
        account: String,
        #[arg(long)]
        user: String,
        /// The key stops working after this many days.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// The account's keys (never their secrets).
    List(AccountArg),
    /// Stop a key working at once.
    Revoke(RevokeArgs),
}

#[derive(Subcommand)]
enum ScimTokenCmd {
    Create {
        #[arg(long)]
        account: String,
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    List(AccountArg),
    Revoke(RevokeArgs),
}

/// `--account A`.
#[derive(clap::Args)]
struct AccountArg {
    #[arg(long)]
    account: String,
}

/// `--account A --id I`: a credential to revoke.
#[derive(clap::Args)]
struct RevokeArgs {
    #[arg(long)]
    account: String,
    #[arg(long)]
    id: String,
}

fn init_logging(s: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("IDBRIDGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&s.log_level));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if s.log_format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}

/// Prints `value` as JSON with --json, or `text` otherwise.
fn emit(as_json: bool, value: serde_json::Value, text: String) {
    if as_json {
        println!("{value}");
    } else {
        println!("{text}");
    }
}

async fn open(settings: &Settings) -> Result<sea_orm::DatabaseConnection> {
    let db = store::connect(&settings.database_url).await?;
    store::migrate(&db).await?;
    Ok(db)
}

fn main() {
    no_transparent_huge_pages();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    runtime.block_on(run());
}

/// Turns transparent huge pages off for this process. mimalloc asks for
/// them on its segments, so where the kernel grants them on request
/// (`madvise`, as on Debian) the first touch of a fresh region faulted in
/// and zeroed 2 MiB at once: 57% of a 10k-member PATCH's time went to
/// zeroing pages (perf), and the PATCH took 203–242 ms against 87–90 ms
/// without them; RSS after `bench/scim_wrk.sh 20000` fell from 135 to 109
/// MB, with throughput unchanged.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory
    // of ours; it can only fail, which leaves the default.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

async fn run() {
    if let Err(e) = real_main().await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn real_main() -> Result<()> {
    let cli = Cli::parse();
    let mut settings = Settings::load(cli.config.as_deref())?;
    if let Some(u) = cli.database_url {
        settings.database_url = u;
    }
    init_logging(&settings);
    let j = cli.json;
    match cli.cmd {
        Cmd::Serve => serve(settings).await?,
        Cmd::Migrate => migrate_cmd(&settings, j).await?,
        Cmd::Catalog {
            what: CatalogCmd::Privileges,
        } => catalog_privileges(j).await?,
        Cmd::Catalog {
            what: CatalogCmd::Roles,
        } => catalog_roles(j).await?,
        Cmd::Account {
            cmd: AccountCmd::Create { name, admin_email },
        } => account_create(&settings, j, name, admin_email).await?,
        Cmd::Account {
            cmd:
                AccountCmd::Features {
                    account,
                    advanced_user_security,
                    pii_data_insights,
                    datahub,
                },
        } => {
            let change = access_cmds::FeatureChange {
                account,
                advanced_user_security,
                pii_data_insights,
                datahub,
            };
            access_cmds::features(&settings, j, change).await?
        }
        Cmd::SupportAccount { cmd } => access_cmds::support_account(&settings, j, cmd).await?,
        Cmd::SupportAccess { cmd } => access_cmds::support_access(&settings, j, cmd).await?,
        Cmd::AccountGroup { cmd } => access_cmds::account_group(&settings, j, cmd).await?,
        Cmd::Connection { cmd } => connection_cmds::run(&settings, j, cmd).await?,
        Cmd::Webhook { cmd } => webhook_cmds::run(&settings, j, cmd).await?,
        Cmd::BreakGlass {
            cmd: BreakGlassCmd::Reset { account, email },
        } => break_glass_reset(&settings, j, account, email).await?,
        Cmd::ApiKey { cmd } => api_key(&settings, j, cmd).await?,
        Cmd::ScimToken { cmd } => scim_token(&settings, j, cmd).await?,
        Cmd::Sso { cmd } => sso_set(&settings, j, cmd).await?,
        Cmd::Keys {
            cmd: KeysCmd::Rotate,
        } => keys_rotate(&settings, j).await?,
        Cmd::Demo => demo(settings, j).await?,
        Cmd::Db {
            cmd: DbCmd::Copy { from, to },
        } => db_copy(j, from, to).await?,
    }
    Ok(())
}

async fn migrate_cmd(settings: &Settings, j: bool) -> Result<()> {
    open(settings).await?;
    emit(
        j,
        json!({"migrated": true}),
        "database is up to date".into(),
    );
    Ok(())
}

async fn catalog_privileges(j: bool) -> Result<()> {
    let list = idbridge::catalog::PRIVILEGES;
    let text = list
        .iter()
        .map(|p| {
            format!(
                "{:<50} {}{}",
                p.key,
                p.name,
                if p.deprecated { " (deprecated)" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    emit(j, json!({"privileges": list}), text);
    Ok(())
}

async fn catalog_roles(j: bool) -> Result<()> {
    let roles = idbridge::catalog::roles_view();
    let text = roles
        .iter()
        .map(|r| format!("{:<36} {} privileges", r.name, r.privileges.len()))
        .collect::<Vec<_>>()
        .join("\n");
    emit(j, json!({"roles": roles}), text);
    Ok(())
}

async fn account_create(
    settings: &Settings,
    j: bool,
    name: String,
    admin_email: String,
) -> Result<()> {
    let db = open(settings).await?;
    let (acct, bg) = store::accounts::create(&db, &name, &admin_email).await?;
    audit::record(
        &db,
        audit::Event::new(Some(&acct.id), "cli", "account.create", &acct.id)
            .details(json!({"name": name, "break_glass": bg.email})),
    )
    .await?;
    let text = format!(
        "account {}\nbreak-glass administrator {} (user {})\npassword: {}\nTOTP secret: {}\n{}\nThese are shown once; store them safely.",
        acct.id, bg.email, bg.user_id, bg.password, bg.totp_secret, bg.otpauth_uri
    );
    emit(j, json!({"account_id": acct.id, "break_glass": bg}), text);
    Ok(())
}

async fn break_glass_reset(
    settings: &Settings,
    j: bool,
    account: String,
    email: String,
) -> Result<()> {
    let db = open(settings).await?;
    // Credential, sessions, keys and the audit event change together.
    let txn = store::write_txn(&db).await?;
    let bg = store::accounts::reset_break_glass(&txn, &account, &email).await?;
    let sessions = idbridge::store::sessions::revoke_user(&txn, &bg.user_id).await?;
    store::changes::record(&txn, Some(&account), store::changes::Change::ApiKeys).await?;
    audit::record(
        &txn,
        audit::Event::new(Some(&account), "cli", "break_glass.reset", &bg.user_id)
            .details(json!({"sessions_revoked": sessions, "api_keys_revoked": true})),
    )
    .await?;
    txn.commit().await?;
    let text = format!(
        "password: {}\nTOTP secret: {}\n{}",
        bg.password, bg.totp_secret, bg.otpauth_uri
    );
    emit(
        j,
        json!({"email": bg.email, "password": bg.password, "totp_secret": bg.totp_secret, "otpauth_uri": bg.otpauth_uri}),
        text,
    );
    Ok(())
}

async fn sso_set(settings: &Settings, j: bool, cmd: SsoCmd) -> Result<()> {
    let SsoCmd::Set {
        account,
        issuer,
        client_id,
        client_secret,
        mode,
        groups_claim,
        role_source,
        scopes,
        jit,
    } = cmd;
    let db = open(settings).await?;
    store::model::account(&db, &account)
        .await?
        .ok_or_else(|| format!("no account {account}"))?;
    let input = idbridge::sso::settings::SsoInput {
        issuer,
        client_id,
        client_secret,
        scopes: Some(scopes),
        groups_claim,
        role_source,
        mode,
        jit: Some(jit),
    };
    let sealer = idbridge::secrets::Sealer::new(settings.sealing_key())?;
    let txn = store::write_txn(&db).await?;
    let saved = idbridge::sso::settings::put(&txn, &sealer, &account, input).await?;
    store::changes::record(&txn, Some(&account), store::changes::Change::Account).await?;
    audit::record(
        &txn,
        audit::Event::new(Some(&account), "cli", "sso.settings.update", &account)
            .details(json!({"issuer": saved.issuer, "mode": saved.mode})),
    )
    .await?;
    txn.commit().await?;
    let view = idbridge::sso::settings::view(&saved, &settings.public_url);
    emit(
        j,
        json!(view),
        format!(
            "SSO for {account}: {} via {} (mode {}); redirect URI {}",
            saved.client_id, saved.issuer, saved.mode, view.redirect_uri
        ),
    );
    Ok(())
}

async fn keys_rotate(settings: &Settings, j: bool) -> Result<()> {
    let db = open(settings).await?;
    let sealer = idbridge::secrets::Sealer::new(settings.sealing_key())?;
    let kid = idbridge::store::signing_keys::rotate(&db, &sealer)
        .await
        .map_err(|e| e.to_string())?;
    audit::record(&db, audit::Event::new(None, "cli", "keys.rotate", &kid)).await?;
    emit(
        j,
        json!({"kid": kid}),
        format!("now signing with key {kid}"),
    );
    Ok(())
}

async fn db_copy(j: bool, from: String, to: String) -> Result<()> {
    let src = store::connect(&from).await?;
    store::migrate(&src).await?;
    let dst = store::connect(&to).await?;
    let report = store::copy::copy(&src, &dst).await?;
    let text = report
        .iter()
        .map(|(t, n)| format!("{t}: {n}"))
        .collect::<Vec<_>>()
        .join("\n");
    let tables: serde_json::Map<String, serde_json::Value> = report
        .iter()
        .map(|(t, n)| ((*t).to_string(), json!(n)))
        .collect();
    emit(
        j,
        json!({"copied": tables, "verified": true}),
        format!("{text}\nverified: every table holds as many rows as the source"),
    );
    Ok(())
}

async fn scim_token(settings: &Settings, j: bool, cmd: ScimTokenCmd) -> Result<()> {
    let db = open(settings).await?;
    match cmd {
        ScimTokenCmd::Create {
            account,
            expires_in_days,
        } => {
            store::model::account(&db, &account)
                .await?
                .ok_or_else(|| format!("no account {account}"))?;
            let (t, _) = credentials::create_scim_token(&db, &account, expires_in_days).await?;
            audit::record(
                &db,
                audit::Event::new(Some(&account), "cli", "scim_token.create", &t.id),
            )
            .await?;
            let token = t.token.clone().unwrap_or_default();
            emit(
                j,
                json!({"id": t.id, "token": token}),
                format!("SCIM token {}:\n{token}", t.id),
            );
        }
        ScimTokenCmd::List(AccountArg { account }) => {
            let list: Vec<credentials::TokenView> = credentials::list_scim_tokens(&db, &account)
                .await?
                .iter()
                .map(Into::into)
                .collect();
            let text = list
                .iter()
                .map(|t| {
                    format!(
                        "{}  created {}  expires {}  {}",
                        t.id,
                        t.created_at,
                        t.expires_at.as_deref().unwrap_or("never"),
                        if t.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "live"
                        }
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            emit(j, json!({"tokens": list}), text);
        }
        ScimTokenCmd::Revoke(RevokeArgs { account, id }) => {
            let txn = store::write_txn(&db).await?;
            if !credentials::revoke_scim_token(&txn, &account, &id).await? {
                return Err(format!("no live SCIM token {id} in account {account}").into());
            }
            audit::record(
                &txn,
                audit::Event::new(Some(&account), "cli", "scim_token.revoke", &id),
            )
            .await?;
            txn.commit().await?;
            emit(
                j,
                json!({"id": id, "revoked": true}),
                format!("revoked {id}"),
            );
        }
    }
    Ok(())
}

async fn serve(settings: Settings) -> Result<()> {
    tracing::info!(listen = %settings.listen, "starting idbridge");
    let app = idbridge::Application::build(settings).await?;
    app.run_until_signalled().await?;
    Ok(())
}

async fn api_key(settings: &Settings, j: bool, cmd: ApiKeyCmd) -> Result<()> {
    let db = open(settings).await?;
    match cmd {
        ApiKeyCmd::Create {
            account,
            user,
            expires_in_days,
        } => {
            let u = match store::model::find_user(&db, &account, &user).await? {
                store::model::Lookup::One(u) => *u,
                store::model::Lookup::None => {
                    return Err(format!("no user {user} in account {account}").into())
                }
                store::model::Lookup::Ambiguous => {
                    return Err(format!(
                        "{user} names more than one user in account {account}; use the user id"
                    )
                    .into())
                }
            };
            let txn = store::write_txn(&db).await?;
            let k = credentials::create_api_key_expiring(&txn, &account, &u.id, expires_in_days)
                .await?;
            audit::record(
                &txn,
                audit::Event::new(Some(&account), "cli", "api_key.create", &k.id)
                    .details(json!({"user": u.user_name, "expires_in_days": expires_in_days})),
            )
            .await?;
            txn.commit().await?;
            let key = k.key.clone().unwrap_or_default();
            emit(
                j,
                json!({"id": k.id, "key": key}),
                format!("API key {} for {}:\n{key}", k.id, u.user_name),
            );
        }
        ApiKeyCmd::List(AccountArg { account }) => {
            let keys = credentials::list_api_keys(&db, &account, None).await?;
            let views: Vec<credentials::ApiKeyView> = keys.iter().map(Into::into).collect();
            let text = views
                .iter()
                .map(|k| {
                    format!(
                        "{} user={} created={} expires={} revoked={}",
                        k.id,
                        k.user_id,
                        k.created_at,
                        k.expires_at.as_deref().unwrap_or("never"),
                        k.revoked_at.as_deref().unwrap_or("no")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            emit(j, json!({"api_keys": views}), text);
        }
        ApiKeyCmd::Revoke(RevokeArgs { account, id }) => {
            let txn = store::write_txn(&db).await?;
            if !credentials::revoke_api_key(&txn, &account, &id, None).await? {
                return Err(format!("no live API key {id} in account {account}").into());
            }
            store::changes::record(&txn, Some(&account), store::changes::Change::ApiKeys).await?;
            audit::record(
                &txn,
                audit::Event::new(Some(&account), "cli", "api_key.revoke", &id),
            )
            .await?;
            txn.commit().await?;
            emit(
                j,
                json!({"id": id, "revoked": true}),
                format!("API key {id} revoked"),
            );
        }
    }
    Ok(())
}

async fn demo(settings: Settings, j: bool) -> Result<()> {
    let db = open(&settings).await?;
    let (acct, bg) = store::accounts::create(&db, "Demo", "admin@demo.example").await?;
    let key = credentials::create_api_key(&db, &acct.id, &bg.user_id).await?;
    let (tok, _) = credentials::create_scim_token(&db, &acct.id, None).await?;
    let base = settings.public_url.trim_end_matches('/');
    let console = format!("{base}/?account={}", acct.id);
    let text = format!(
        "idbridge is running. Open the console:\n\n    {console}\n\n\
         Sign in as the break-glass administrator of the \"Demo\" account:\n\
         \x20   account   {}\n    email     {}\n    password  {}\n\
         \x20   one-time code: add this to an authenticator app (or scan it as a QR code):\n    {}\n\
         \x20   (no app at hand? `oathtool --totp -b {}` prints the current code)\n\n\
         Then: Identity provider → connect Entra ID, Okta, Google, Keycloak or SAML, and test it;\n\
         Roles → a custom role; Group mappings → map an IdP group to it.\n\n\
         For scripts: API key {} (management API at {base}/api/v1, docs at {base}/docs)\n\
         \x20           SCIM token {} (SCIM base URL {base}/scim/v2)\n\
         These secrets are shown once; `--json` prints them as one JSON object.",
        acct.id, bg.email, bg.password, bg.otpauth_uri, bg.totp_secret, key.key.as_deref().unwrap_or_default(), tok.token.as_deref().unwrap_or_default()
    );
    let v = json!({
        "account_id": acct.id,
        "api_key": key.key,
        "scim_token": tok.token,
        "break_glass": bg,
        "url": settings.public_url,
        "console": console,
    });
    emit(j, v, text);
    serve(settings).await
}

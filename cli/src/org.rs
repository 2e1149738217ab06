//! `samlgate org …`: onboarding against the AWS the environment points at (moto locally:
//! `AWS_ENDPOINT_URL`). In AWS the organisation's stack creates the key; this is the local and
//! dev path, and it uses the same key policy template as org-template.yaml.
//!
//! stdout: one JSON object. Exit 0 done, 1 refused (with the error code), 2 usage/config.

use std::process::ExitCode;
use std::sync::Arc;

use samlgate_aws::{sdk_config, Kms, Secrets, Table};
use samlgate_deploy::key_policy::{render, PolicyInputs};
use samlgate_domain::audit::Caller;
use samlgate_domain::ids::OrgId;
use samlgate_domain::ports::CreateKey;
use samlgate_domain::VaultError;
use samlgate_vault::admin::{Admin, NewOrg};
use samlgate_vault::intake_key;
use serde_json::json;

use crate::output::{emit, fail, usage};

#[derive(Debug, clap::Subcommand)]
pub enum OrgCommand {
    /// Register an organisation: create its KMS key with the samlgate key policy (or use
    /// --key-arn, BYOK), prove the key works, generate its intake key pair.
    Create(CreateArgs),
    /// Print an organisation's intake public key (PEM and JWK), as GET /admin/orgs/{org}/intake-key.
    IntakeKey(TableArgs),
    /// Print the key policy an organisation key gets (the template of org-template.yaml).
    Policy(PolicyArgs),
}

#[derive(Debug, clap::Args)]
pub struct TableArgs {
    #[arg(long)]
    org: String,
    /// The DynamoDB table.
    #[arg(long, env = "SAMLGATE_TABLE", default_value = "samlgate")]
    table: String,
}

#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    #[arg(long)]
    org: String,
    /// The account the platform roles live in (moto's is 123456789012).
    #[arg(long, default_value = "123456789012")]
    account_id: String,
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[arg(long)]
    org: String,
    /// Display name.
    #[arg(long)]
    name: String,
    /// Use this existing key (BYOK) instead of creating one.
    #[arg(long, value_name = "ARN")]
    key_arn: Option<String>,
    /// The account the platform roles live in (moto's is 123456789012).
    #[arg(long, default_value = "123456789012")]
    account_id: String,
    /// The organisation's provisioning function (org-template.yaml's `ProvisionFunctionArn`
    /// output), which admin invokes for `POST …/credentials/{id}/provision`.
    #[arg(long, value_name = "ARN")]
    provision_function_arn: Option<String>,
    /// A host the organisation's provisioning function may reach (repeatable).
    #[arg(long = "egress-host", value_name = "HOST")]
    egress_hosts: Vec<String>,
    #[arg(long, env = "SAMLGATE_TABLE", default_value = "samlgate")]
    table: String,
    /// Create the table if it does not exist (local development).
    #[arg(long)]
    create_table: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| usage(&format!("cannot start the async runtime: {e}")))
}

pub fn run(command: &OrgCommand) -> ExitCode {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match command {
        OrgCommand::Create(args) => rt.block_on(create(args)),
        OrgCommand::IntakeKey(args) => rt.block_on(show_intake_key(args)),
        OrgCommand::Policy(args) => match OrgId::parse(&args.org) {
            Ok(org) => {
                println!(
                    "{}",
                    render(&PolicyInputs::platform_defaults(&args.account_id, &org))
                );
                ExitCode::SUCCESS
            }
            Err(e) => usage(&e.to_string()),
        },
    }
}

async fn create(args: &CreateArgs) -> ExitCode {
    let org = match OrgId::parse(&args.org) {
        Ok(org) => org,
        Err(e) => return usage(&e.to_string()),
    };
    let config = sdk_config().await;
    let table = Arc::new(Table::new(&config, &args.table));
    if args.create_table {
        if let Err(e) = table.create().await {
            return fail(&VaultError::from(e));
        }
    }
    // Refuse early, before a key is made for nothing (registration checks again, atomically).
    match samlgate_domain::ports::OrgReader::get_org(table.as_ref(), &org).await {
        Ok(Some(_)) => return fail(&VaultError::OrgExists),
        Ok(None) => {}
        Err(e) => return fail(&VaultError::from(e)),
    }
    let kms = Kms::new(&config);
    let secrets = Secrets::new(&config);
    // One naming rule for the roles, shared by the key policy and the organisation record.
    let principals = PolicyInputs::platform_defaults(&args.account_id, &org);
    let (key_arn, created) = match &args.key_arn {
        Some(arn) => (arn.clone(), false),
        None => {
            let policy = render(&principals);
            match kms
                .create_key(&format!("samlgate organisation {org}"), &policy)
                .await
            {
                Ok(arn) => (arn, true),
                Err(e) => return fail(&VaultError::from(e)),
            }
        }
    };
    let admin = Admin {
        keys: &kms,
        secrets: &secrets,
        config: table.as_ref(),
        writer: table.as_ref(),
        audit: table.as_ref(),
        clock: &samlgate_domain::clock::SystemClock,
        fle: None,
    };
    let caller = Caller {
        actor: "cli".into(),
        correlation_id: format!("cli-{}", std::process::id()),
    };
    let input = NewOrg {
        org: org.to_string(),
        name: args.name.clone(),
        key_arn: key_arn.clone(),
        byok: !created,
        provision_function_arn: args.provision_function_arn.clone(),
        provision_role_arn: Some(principals.provision_role_arn.clone()),
        egress_allowlist: args.egress_hosts.clone(),
    };
    match admin.register_org(&caller, input).await {
        Ok(record) => emit(&json!({"status": "created", "org": record, "key_created": created})),
        Err(e) => {
            // Nothing half-registered: a key made for this attempt is scheduled for deletion.
            if created {
                if let Err(d) = kms.schedule_key_deletion(&key_arn).await {
                    eprintln!("samlgate: could not schedule deletion of {key_arn}: {d}");
                }
            }
            fail(&e)
        }
    }
}

async fn show_intake_key(args: &TableArgs) -> ExitCode {
    let org = match OrgId::parse(&args.org) {
        Ok(org) => org,
        Err(e) => return usage(&e.to_string()),
    };
    let config = sdk_config().await;
    let table = Table::new(&config, &args.table);
    let kms = Kms::new(&config);
    let secrets = Secrets::new(&config);
    let admin = Admin {
        keys: &kms,
        secrets: &secrets,
        config: &table,
        writer: &table,
        audit: &table,
        clock: &samlgate_domain::clock::SystemClock,
        fle: None,
    };
    match admin
        .intake_key(&org)
        .await
        .and_then(|key| intake_key::public_view(&key))
    {
        Ok(view) => emit(&json!(view)),
        Err(e) => fail(&e),
    }
}

//! The message catalogue: Norwegian bokmål by default, English when the browser prefers it
//! (Accept-Language, RFC 9110 §12.5.4). Every text is a [`Msg`] variant, so a missing
//! translation is a compile error, not a blank on the page.

/// The page language; also the `lang` attribute of `<html>` (WCAG 3.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Nb,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nb => "nb",
            Lang::En => "en",
        }
    }

    /// Picks from an Accept-Language value: the highest-q tag that is Norwegian (`nb`,
    /// `no`, `nn`) or English; bokmål when nothing matches or on a tie.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::Nb;
        };
        let mut best: Option<(f32, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.trim().parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let lang = match primary {
                "nb" | "no" | "nn" => Lang::Nb,
                "en" => Lang::En,
                _ => continue,
            };
            if q <= 0.0 {
                continue;
            }
            match best {
                Some((bq, bl)) if bq > q || (bq == q && bl == Lang::Nb) => {}
                _ => best = Some((q, lang)),
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::Nb)
    }
}

macro_rules! catalogue {
    ($($name:ident => $nb:literal, $en:literal;)*) => {
        /// A text of the UI.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Msg { $($name),* }

        impl Msg {
            pub fn get(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $((Msg::$name, Lang::Nb) => $nb, (Msg::$name, Lang::En) => $en,)*
                }
            }
        }
    };
}

catalogue! {
    AppName => "Sentral", "Sentral";
    SkipToContent => "Hopp til hovedinnhold", "Skip to main content";
    MainNav => "Hovedmeny", "Main menu";
    Overview => "Oversikt", "Overview";
    Sites => "Lokasjoner", "Sites";
    Departments => "Avdelinger", "Departments";
    Extensions => "Internnumre", "Extensions";
    Trunks => "Trunker", "Trunks";
    LiveCalls => "Samtaler nå", "Live calls";
    CallRecords => "Samtalelogg", "Call records";
    Users => "Brukere", "Users";
    ApiTokens => "API-nøkler", "API tokens";
    SignIn => "Logg inn", "Sign in";
    SignOut => "Logg ut", "Sign out";
    Username => "Brukernavn", "User name";
    Password => "Passord", "Password";
    SignInFailed => "Feil brukernavn eller passord, eller kontoen er midlertidig sperret.", "Wrong user name or password, or the account is temporarily locked.";
    TotpTitle => "Engangskode", "One-time code";
    TotpCode => "Kode fra autentiseringsappen (6 siffer) eller en gjenopprettingskode", "Code from the authenticator app (6 digits) or a recovery code";
    TotpFailed => "Koden stemmer ikke. Prøv igjen.", "The code is not right. Try again.";
    Confirm => "Bekreft", "Confirm";
    EnrolTitle => "Sett opp tofaktorinnlogging", "Set up two-factor sign-in";
    EnrolIntro => "Skann QR-koden med en autentiseringsapp, eller skriv inn hemmeligheten under. Den vises bare denne ene gangen.", "Scan the QR code with an authenticator app, or type in the secret below. It is shown this once only.";
    Secret => "Hemmelighet", "Secret";
    QrAlt => "QR-kode for autentiseringsappen", "QR code for the authenticator app";
    RecoveryTitle => "Gjenopprettingskoder", "Recovery codes";
    RecoveryIntro => "Skriv ut eller lagre disse kodene et trygt sted. Hver kode kan brukes én gang hvis du mister telefonen. De vises bare nå.", "Print or store these codes somewhere safe. Each code works once if you lose your phone. They are shown only now.";
    Continue => "Fortsett", "Continue";
    PhonesRegistered => "Registrerte telefoner", "Phones registered";
    CallsNow => "Samtaler nå", "Calls now";
    CallsToday => "Samtaler i dag", "Calls today";
    TrunkState => "Trunkstatus", "Trunk state";
    RecentLockouts => "Siste sperringer", "Recent lockouts";
    Registered => "Registrert", "Registered";
    NotRegistered => "Ikke registrert", "Not registered";
    Up => "Oppe", "Up";
    Down => "Nede", "Down";
    None => "Ingen", "None";
    Search => "Søk", "Search";
    Number => "Nummer", "Number";
    Name => "Navn", "Name";
    Site => "Lokasjon", "Site";
    Department => "Avdeling", "Department";
    ClassOfService => "Tjenesteklasse", "Class of service";
    PremiumAllowed => "Tillat overtakserte numre", "Premium numbers allowed";
    Enabled => "Aktiv", "Enabled";
    Disabled => "Deaktivert", "Disabled";
    State => "Status", "State";
    Actions => "Handlinger", "Actions";
    Create => "Opprett", "Create";
    Save => "Lagre", "Save";
    Edit => "Endre", "Edit";
    Delete => "Slett", "Delete";
    NewExtension => "Nytt internnummer", "New extension";
    NewPassword => "Nytt SIP-passord", "New SIP password";
    PasswordShownOnce => "SIP-passordet vises bare nå. Skriv det inn i telefonen.", "The SIP password is shown only now. Enter it in the phone.";
    ImportCsv => "Importer CSV", "Import CSV";
    ImportHelp => "Kolonner: number,display_name,site,department,class_of_service,premium_allowed,enabled. Ingenting importeres hvis én linje er feil.", "Columns: number,display_name,site,department,class_of_service,premium_allowed,enabled. Nothing is imported if any line is wrong.";
    CsvText => "CSV-innhold", "CSV content";
    ExportCsv => "Last ned CSV", "Download CSV";
    ImportFailed => "Ingenting ble importert. Rett disse linjene:", "Nothing was imported. Fix these lines:";
    Imported => "Importert", "Imported";
    Line => "Linje", "Line";
    Error => "Feil", "Error";
    Code => "Kode", "Code";
    Address => "Adresse", "Address";
    CostCentre => "Kostnadssted", "Cost centre";
    NumberRanges => "Nummerserier", "Number ranges";
    Host => "Vert", "Host";
    Port => "Port", "Port";
    Transport => "Transport", "Transport";
    RegisterWithProvider => "Registrerer hos leverandør", "Registers with provider";
    ChannelLimit => "Maks samtaler", "Channel limit";
    Yes => "Ja", "Yes";
    No => "Nei", "No";
    Caller => "Fra", "Caller";
    Callee => "Til", "Callee";
    Started => "Startet", "Started";
    Duration => "Varighet", "Duration";
    HangUp => "Legg på", "Hang up";
    From => "Fra dato", "From date";
    To => "Til dato", "To date";
    Direction => "Retning", "Direction";
    Outcome => "Utfall", "Outcome";
    Any => "Alle", "Any";
    Filter => "Filtrer", "Filter";
    Previous => "Forrige side", "Previous page";
    Next => "Neste side", "Next page";
    Page => "Side", "Page";
    Cost => "Kostnad", "Cost";
    Role => "Rolle", "Role";
    NewUser => "Ny bruker", "New user";
    UserPasswordShownOnce => "Passordet vises bare nå. Gi det til brukeren på en trygg måte.", "The password is shown only now. Hand it to the user safely.";
    NewToken => "Ny API-nøkkel", "New API token";
    TokenShownOnce => "Nøkkelen vises bare nå.", "The token is shown only now.";
    Revoke => "Trekk tilbake", "Revoke";
    Revoked => "Trukket tilbake", "Revoked";
    CreatedBy => "Opprettet av", "Created by";
    Forbidden => "Du har ikke tilgang til denne siden.", "You do not have access to this page.";
    NotFound => "Fant ikke siden.", "Page not found.";
    BadInput => "Ugyldig input", "Invalid input";
    ServerError => "Noe gikk galt. Feilen er logget.", "Something went wrong. The error has been logged.";
    CsrfFailed => "Skjemaet er utløpt. Last siden på nytt og prøv igjen.", "The form has expired. Reload the page and try again.";
    Saved => "Lagret", "Saved";
    Time => "Tid", "Time";
    Who => "Hvem", "Who";
    FromWhere => "Fra", "From";
    Costs => "Kostnader", "Costs";
    DestinationClass => "Samtaletype", "Destination class";
    Month => "Måned", "Month";
    Total => "Sum", "Total";
    Calls => "Samtaler", "Calls";
    Minutes => "Minutter", "Minutes";
    DownloadXlsx => "Last ned Excel (XLSX)", "Download Excel (XLSX)";
    Savings => "Innsparing", "Savings";
    SyntheticData => "Merk: beregningen bygger helt eller delvis på syntetiske (genererte) samtaledata", "Note: the calculation rests wholly or partly on synthetic (generated) call data";
    RealData => "Beregningen bygger på reelle samtaledata", "The calculation rests on real call data";
    PerYear => "Per år", "Per year";
    PerMonth => "Gammel og ny løsning per måned", "Old and new per month";
    Operating => "Drift", "Operating";
    FullCost => "Full kostnad (med investering)", "Full cost (with investment)";
    OldWorld => "Gammel løsning", "Old world";
    NewWorld => "Ny løsning", "New world";
    Saving => "Innsparing", "Saving";
    Target => "Mål", "Target";
    Cumulative => "Akkumulert innsparing mot målet", "Cumulative saving against the target";
    Sensitivity => "Følsomhet", "Sensitivity";
    Input => "Inndata", "Input";
    BaseValue => "Grunnverdi", "Base value";
    Weight => "Vekt (NOK/år)", "Weight (NOK/year)";
    FlipOperating => "Snur driftsvurderingen ved", "Operating verdict flips at";
    FlipFull => "Snur fullkostvurderingen ved", "Full-cost verdict flips at";
    Assumptions => "Forutsetninger", "Assumptions";
    Tariffs => "Tariffer", "Tariffs";
    InForce => "Tariffer i bruk", "Tariffs in force";
    ImportedFiles => "Importerte filer", "Imported files";
    ImportTariff => "Importer tariffil", "Import tariff file";
    LiveUpdates => "Oppdateres automatisk", "Updates automatically";
    FixFields => "Skjemaet ble ikke lagret. Rett dette:", "The form was not saved. Fix these:";
    Required => "Må fylles ut", "Required";
    RangeDigits => "Nummerserie må være siffer, som 22334400-22334499", "Number range must be digits, like 22334400-22334499";
    RangeLengths => "Første og siste nummer i serien må ha like mange siffer", "First and last number of the range must have the same number of digits";
    RangeOrder => "Første nummer i serien kommer etter siste", "First number of the range comes after the last";
    RangeOverlaps => "Overlapper en annen nummerserie", "Overlaps another number range";
    InvalidSource => "Ikke en IP-adresse eller CIDR-blokk (som 192.0.2.0/24)", "Not an IP address or CIDR block (like 192.0.2.0/24)";
    InvalidPort => "Port må være et tall fra 1 til 65535", "Port must be a number from 1 to 65535";
    InvalidTransport => "Transport må være udp, tcp eller tls", "Transport must be udp, tcp or tls";
    InvalidChannelLimit => "Maks samtaler må være et helt tall fra 1, eller tomt for ingen grense", "Channel limit must be a whole number from 1, or empty for no limit";
    InvalidCodeName => "Bruk 1 til 64 bokstaver a–z, siffer, «-» eller «_»", "Use 1 to 64 letters a–z, digits, '-' or '_'";
    InvalidHost => "Vertsnavn eller adresse uten mellomrom", "Host name or address without spaces";
    UnknownSite => "Lokasjonen finnes ikke", "No such site";
    InvalidClass => "Ukjent tjenesteklasse", "Unknown class of service";
    NameTaken => "Navnet er allerede i bruk", "The name is already in use";
    DepartmentInUse => "Avdelingen kan ikke slettes fordi den er i bruk", "The department cannot be deleted because it is in use";
    InUseBySites => "lokasjoner", "sites";
    InUseByExtensions => "internnumre", "extensions";
    SiteDefault => "Lokasjonens avdeling", "The site's department";
    NoDepartment => "Ingen avdeling", "No department";
    EditSite => "Endre lokasjon", "Edit site";
    EditDepartment => "Endre avdeling", "Edit department";
    EditTrunk => "Endre trunk", "Edit trunk";
    NewTrunk => "Ny trunk", "New trunk";
    TrunkPassword => "Passord hos leverandøren", "Password at the provider";
    SecretIsSet => "Et passord er lagret. Det vises aldri; la feltet stå tomt for å beholde det.", "A password is stored. It is never shown; leave the field empty to keep it.";
    SecretNotSet => "Ingen passord lagret.", "No password stored.";
    ClearSecret => "Fjern lagret passord", "Remove the stored password";
    AllowedSources => "Tillatte avsenderadresser", "Allowed source addresses";
    AllowedSourcesHelp => "IP-adresser eller CIDR-blokker, én per linje. Tomt: bare vertens egen adresse.", "IP addresses or CIDR blocks, one per line. Empty: the host's own address only.";
    RangesHelp => "Én serie per linje, som 22334400-22334499, eller ett nummer.", "One range per line, like 22334400-22334499, or a single number.";
    NoLimit => "Tomt for ingen grense", "Empty for no limit";
    AuditLog => "Revisjonslogg", "Audit log";
    Action => "Handling", "Action";
    Detail => "Detaljer", "Details";
    AuditShowsNewest => "Viser de nyeste oppføringene. Nedlastingene inneholder hele loggen.", "Shows the newest entries. The downloads hold the whole log.";
    Downloads => "Last ned", "Download";
    Deleted => "Slettet", "Deleted";
    VerdictOperating => "Driftsbesparelse", "Operating saving";
    VerdictFull => "medregnet investering (annuitet", "including investment (annuity";
    VerdictAbove => "over målet på", "above the target of";
    VerdictBelow => "under målet på", "below the target of";
    VerdictAboveShort => "over målet", "above the target";
    VerdictBelowShort => "under målet", "below the target";
    Id => "ID", "ID";
    Trunk => "Trunk", "Trunk";
    InvalidNumber => "Internnummer må være 2 til 8 siffer", "Extension number must be 2 to 8 digits";
    CannotDisableSelf => "Du kan ikke deaktivere deg selv", "You cannot disable yourself";
    UnknownRole => "Ukjent rolle", "Unknown role";
    AlreadyExists => "finnes allerede", "already exists";
    DoesNotExist => "finnes ikke", "does not exist";
    Key => "Nøkkel", "Key";
    Version => "Versjon", "Version";
    NokPerYear => "kr/år", "NOK/year";
}

/// The savings verdict in a sentence, in `lang`: the operating saving per year against
/// the target, then the full-cost saving with the investment annuity. English is the
/// billing crate's own sentence (the CLI prints the same).
pub fn savings_verdict(lang: Lang, r: &billing::SavingsReport) -> String {
    if lang == Lang::En {
        return r.verdict.sentence.clone();
    }
    let nok = billing::money::format_nok;
    let side = |ok: bool| {
        if ok {
            Msg::VerdictAbove
        } else {
            Msg::VerdictBelow
        }
    };
    let per_year = Msg::NokPerYear.get(lang);
    format!(
        "{} {} {per_year}: {} {} {per_year}; {} {} {per_year}) {} {per_year}: {}.",
        Msg::VerdictOperating.get(lang),
        nok(r.annual.operating_saving),
        side(r.verdict.operating_meets_target).get(lang),
        nok(r.target_per_year),
        Msg::VerdictFull.get(lang),
        nok(r.annual.investment_annuity),
        nok(r.annual.full_cost_saving),
        if r.verdict.full_cost_meets_target {
            Msg::VerdictAboveShort
        } else {
            Msg::VerdictBelowShort
        }
        .get(lang),
    )
}

/// A sensitivity row's description and unit in `lang`, by its input key (billing words
/// them in English); an input not listed here keeps billing's words.
pub fn sensitivity_words(lang: Lang, s: &billing::savings::Sensitivity) -> (String, String) {
    if lang == Lang::En {
        return (s.description.clone(), s.unit.clone());
    }
    let description = match s.input.as_str() {
        "fixed_costs.legacy.unit_prices.pbx_service_large_per_year" => {
            "serviceavtale for den store sentralen"
        }
        "fixed_costs.legacy.unit_prices.pbx_service_small_per_year" => {
            "serviceavtale for hver lille sentral"
        }
        "fixed_costs.legacy.unit_prices.isdn_bri_per_month" => "ISDN-2-linje",
        "fixed_costs.legacy.unit_prices.isdn_pri_per_month" => "ISDN-30-linje",
        "fixed_costs.legacy.unit_prices.analogue_line_per_month" => {
            "analog talelinje som erstattes"
        }
        "derived.call_volume_factor" => "samtalevolum (1 = som målt)",
        "derived.legacy_call_price_factor" => {
            "alle samtalepriser i gammel løsning (1 = som i filen)"
        }
        "derived.new_call_price_factor" => "alle samtalepriser i ny løsning (1 = som i filen)",
        "fixed_costs.new.internal_ops_fte" => "intern driftsbemanning",
        "fixed_costs.new.sip_trunk_per_channel_per_month" => "SIP-trunkkanal",
        "fixed_costs.new.platform_support_per_year" => "plattformstøtte",
        "fixed_costs.new.licences_per_year" => "lisenser",
        "derived.investment_total" => "samlet investering (servere, telefoner, nettverk, prosjekt)",
        "fixed_costs.new.investment.lifetime_years" => "år investeringen nedbetales over",
        "fixed_costs.new.investment.interest_rate" => "rente på investeringen",
        _ => s.description.as_str(),
    };
    let unit = match s.unit.as_str() {
        "NOK/year" => "kr/år",
        "NOK/month" => "kr/måned",
        "NOK" => "kr",
        "factor" => "faktor",
        "FTE" => "årsverk",
        "years" => "år",
        "per year" => "per år",
        other => other,
    };
    (description.to_owned(), unit.to_owned())
}

/// The savings report's notes on how it was computed, in `lang`.
pub fn savings_notes(lang: Lang, r: &billing::SavingsReport) -> Vec<String> {
    use billing::savings::SavingsNote as N;
    if lang == Lang::En {
        return r.notes.clone();
    }
    r.note_items
        .iter()
        .map(|n| match n {
            N::Counterfactual => "Kontrafaktisk: hver samtale prises med både gammel og ny tariff, uansett gyldighetsdatoene deres.".to_owned(),
            N::Annualised {
                calendar_days,
                reference_working_days,
                working_days,
                reference_year,
            } => format!(
                "Omregnet til år etter kalenderdager: trafikk × 365 / {calendar_days} dager; etter arbeidsdager: × {reference_working_days} / {working_days} (arbeidsdager i {reference_year} / i perioden). Faste kostnader er årsbeløp."
            ),
            N::InboundFree => "Innkommende samtaler koster ingenting i noen av løsningene (den som ringer betaler); ubesvarte samtaler koster ingenting.".to_owned(),
            N::Seasonality => "Sesongvariasjon: en periode kortere enn et år skaleres som om hele året så slik ut (sommerferie og jul er roligere).".to_owned(),
            N::Synthetic { share } => format!(
                "{} % av samtalene er syntetiske (generert fra trafikkprofilen), ikke reell trafikk.",
                format!("{:.1}", share * 100.0).replace('.', ",")
            ),
            N::Unrated { legacy, new } => format!(
                "{legacy} samtaler kunne ikke prises i gammel løsning og {new} i ny; de telles som 0."
            ),
            N::MobileBlend {
                tariff,
                file_price,
                blend,
            } => format!(
                "Tariff {tariff}: mobilprisen {file_price} brukes når operatøren er ukjent; operatørprisene vektet med profilens operatørandeler gir {blend}."
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_language_from_accept_language() {
        assert_eq!(Lang::from_accept_language(None), Lang::Nb);
        assert_eq!(Lang::from_accept_language(Some("en-GB,en;q=0.9")), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("nb-NO,nb;q=0.9,en;q=0.8")),
            Lang::Nb
        );
        assert_eq!(
            Lang::from_accept_language(Some("de-DE, en;q=0.5")),
            Lang::En
        );
        assert_eq!(
            Lang::from_accept_language(Some("en;q=0.4, no;q=0.8")),
            Lang::Nb
        );
        assert_eq!(Lang::from_accept_language(Some("fr")), Lang::Nb);
        assert_eq!(Lang::from_accept_language(Some("en;q=0")), Lang::Nb);
    }

    #[test]
    fn texts_differ_by_language() {
        assert_eq!(Msg::SignIn.get(Lang::Nb), "Logg inn");
        assert_eq!(Msg::SignIn.get(Lang::En), "Sign in");
    }
}

"""The NLP stage: each supplywatch component on its own, then the claim
frames and statuses on short passages written for these tests."""

import pytest

from pipeline.gazetteer import load_gazetteer, name_key, strip_legal
from pipeline.config import Settings
from pipeline.nlp import extract
from pipeline.status import status_of

GAZETTEER_DIR = Settings().models_dir + "/gazetteer"


def claims_of(nlp, text):
    """Claims keyed by (relation, subject, object); partner pairs in name order."""
    found = {}
    for claim in extract(nlp, text).claims:
        ends = (claim.subject, claim.object)
        if claim.relation == "PARTNERS_WITH":
            ends = tuple(sorted(ends))
        found[(claim.relation, *ends)] = claim
    return found


def entities_of(nlp, text):
    return {(m.text, m.label) for m in extract(nlp, text).mentions}


def test_pipeline_order(nlp):
    names = nlp.pipe_names
    assert names.index("gazetteer_ruler") < names.index("ner") < names.index("supplywatch_entity_fixer")
    assert names[-1] == "supplywatch_claims"
    assert names.index("supplywatch_line_breaks") < names.index("parser")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Mercedes-Benz Group AG", "Mercedes-Benz"),
        ("Groupe Renault", "Renault"),
        ("Renault Group", "Renault"),
        ("Toyota Motor Corp.", "Toyota Motor"),
        ("Valeo SA", "Valeo"),
        ("Renault's", "Renault"),
    ],
)
def test_strip_legal(raw, expected):
    assert strip_legal(raw) == expected


def test_gazetteer_keeps_subsidiaries_apart():
    gazetteer = load_gazetteer(GAZETTEER_DIR)
    assert gazetteer.company("Groupe Renault").canonical == "Renault"
    assert gazetteer.company("Renault Trucks") is None or gazetteer.company("Renault Trucks").canonical != "Renault"
    assert gazetteer.company("Valeo Siemens eAutomotive") is None or gazetteer.company("Valeo Siemens eAutomotive").canonical != "Valeo"
    assert gazetteer.company("Ampere").canonical == "Ampere"
    assert name_key("BYD Co., Ltd.") == name_key("BYD")
    assert gazetteer.place("Chinese") == "China" and gazetteer.place("the US") == "United States"


def test_entity_fixer_and_canonical_names(nlp):
    found = extract(nlp, "Valeo and Groupe Renault met in Paris. The EV market slowed, said Luca de Meo.").mentions
    by_text = {(m.text, m.label): m.canonical for m in found}
    assert by_text[("Valeo", "ORG")] == "Valeo"
    assert by_text[("Groupe Renault", "ORG")] == "Renault"
    assert ("Paris", "GPE") in by_text
    assert not any(m.text == "EV" for m in found)


def test_ruler_finds_components_and_facilities(nlp):
    labels = entities_of(nlp, "Hyundai builds battery packs and electric motors at its Ulsan plant for the Ioniq range.")
    assert ("battery packs", "COMPONENT") in labels and ("electric motors", "COMPONENT") in labels
    assert ("Ulsan plant", "FACILITY") in labels


def test_line_breaks_start_sentences(nlp):
    doc = nlp("Battery news\nPanasonic will supply cells to Mazda from 2027.")
    assert [s.text.strip() for s in doc.sents if s.text.strip()] == ["Battery news", "Panasonic will supply cells to Mazda from 2027."]


@pytest.mark.parametrize(
    "text, claim",
    [
        ("Panasonic will supply battery cells to Mazda from 2027.", ("SUPPLIES", "Panasonic", "Mazda")),
        ("Toyota buys power semiconductors from Denso for its hybrid models.", ("SUPPLIES", "Denso", "Toyota")),
        ("Ford already imports lithium from Chile for its batteries.", ("SOURCES_FROM", "Ford", "Chile")),
        ("Nissan and Honda announced a partnership on software-defined vehicles.", ("PARTNERS_WITH", "Honda", "Nissan")),
        ("BMW is collaborating with Toyota on fuel cell systems.", ("PARTNERS_WITH", "BMW", "Toyota")),
        ("Tesla builds the Model Y at its Grünheide plant.", ("MANUFACTURES_AT", "Tesla", "Grünheide plant")),
        ("Kia will assemble the EV4 in Slovakia starting next year.", ("MANUFACTURES_AT", "Kia", "Slovakia")),
    ],
)
def test_claim_frames(nlp, text, claim):
    found = claims_of(nlp, text)
    assert claim in found, found
    assert found[claim].evidence == text


def test_reference_to_a_company_named_earlier(nlp):
    text = ("Volvo Cars reported higher sales in Europe. "
            "The Swedish carmaker also said it sources battery cells from CATL for the EX30.")
    found = claims_of(nlp, text)
    assert ("SUPPLIES", "CATL", "Volvo Cars") in found


def test_coordination_gives_one_claim_per_partner(nlp):
    found = claims_of(nlp, "Stellantis ended its joint ventures with Dongfeng and GAC in 2022.")
    assert found[("PARTNERS_WITH", "Dongfeng", "Stellantis")].status == "ended"
    assert found[("PARTNERS_WITH", "GAC", "Stellantis")].kind == "joint_venture"


@pytest.mark.parametrize(
    "text, status",
    [
        ("Bosch supplies brakes to Tesla.", "active"),
        ("Bosch will supply brakes to Tesla.", "planned"),
        ("Bosch plans to supply brakes to Tesla.", "planned"),
        ("Bosch might supply brakes to Tesla.", "possible"),
        ("Bosch is in talks to supply brakes to Tesla.", "possible"),
        ("Bosch stopped supplying brakes to Tesla.", "ended"),
        ("Ford walked away from its partnership with Rivian.", "ended"),
        ("Bosch denied it would supply brakes to Tesla.", "denied"),
        ("Aneka Tambang, which had planned to form a joint venture with LG Energy Solution, went ahead alone.", "ended"),
        ("The exit means the closure of Forvia's Highland Park plant in Michigan.", "ended"),
        ("LG Magna e-Powertrain is close to a deal to build electric cars for Apple.", "possible"),
    ],
)
def test_status_cues(nlp, text, status):
    found = extract(nlp, text).claims
    assert found, f"no claim in {text!r}"
    assert found[0].status == status


def test_status_of_reads_nearest_cue(nlp):
    doc = nlp("Renault ended the project, but it will buy motors from a Chinese supplier.")
    buy = next(t for t in doc if t.lemma_ == "buy")
    assert status_of(buy) == "planned"


def test_one_claim_per_pair_takes_the_ended_state(nlp):
    text = ("Renault and Valeo announced their collaboration in 2023. "
            "Now Renault has ended its partnership with Valeo.")
    found = claims_of(nlp, text)
    assert list(found) == [("PARTNERS_WITH", "Renault", "Valeo")]
    assert found[("PARTNERS_WITH", "Renault", "Valeo")].status == "ended"


@pytest.mark.parametrize(
    "name, canonical",
    [("Volkswagon", "Volkswagen"), ("Mercedes Benz", "Mercedes-Benz"), ("Stellantis N.V.", "Stellantis"),
     ("Renaut", "Renault"), ("Renault Trucks", "Renault Trucks"), ("Valeo Siemens eAutomotive", "Valeo Siemens eAutomotive")],
)
def test_fuzzy_names_stay_within_one_company(name, canonical):
    gazetteer = load_gazetteer(GAZETTEER_DIR)
    found = gazetteer.company(name)
    assert (found.canonical if found else name) == canonical


@pytest.mark.parametrize(
    "text, claim, status",
    [
        ("Ford and Mazda said they have no plans to dissolve their joint venture in China.",
         ("PARTNERS_WITH", "Ford", "Mazda"), "active"),
        ("Mahindra and Ford said their proposed joint venture will not go ahead.",
         ("PARTNERS_WITH", "Ford", "Mahindra"), "ended"),
        ("Bosch won an order from BMW for electric axles.", ("SUPPLIES", "Bosch", "BMW"), "active"),
        ("BMW has withdrawn an order for battery cells from Northvolt.", ("SUPPLIES", "Northvolt", "BMW"), "ended"),
        ("Japan's Panasonic is Tesla's exclusive supplier of battery cells.", ("SUPPLIES", "Panasonic", "Tesla"), "active"),
        ("Japan's Panasonic is Tesla's exclusive supplier of battery cells.", ("SOURCES_FROM", "Tesla", "Japan"), "active"),
        ("LG Energy Solution is in talks with Toyota about supplying batteries.",
         ("SUPPLIES", "LG Energy Solution", "Toyota"), "possible"),
        ("Nissan abandoned a planned battery factory in Japan.", ("MANUFACTURES_AT", "Nissan", "Japan"), "ended"),
        ("Audi will build the new model at its Ingolstadt plant.", ("MANUFACTURES_AT", "Audi", "Ingolstadt plant"), "planned"),
        ("Hyundai said it is not discussing car development with Apple.", ("PARTNERS_WITH", "Apple", "Hyundai"), "denied"),
        ("Samsung SDI counts General Motors and BMW among its customers.", ("SUPPLIES", "Samsung SDI", "BMW"), "active"),
        ("Mahindra has lined up BYD to supply the battery packs.", ("SUPPLIES", "BYD", "Mahindra"), "active"),
        ("Toyota has added Toshiba as a battery supplier.", ("SUPPLIES", "Toshiba", "Toyota"), "active"),
        ("LG Display and LG Innotek are part of Apple's supply chain.", ("SUPPLIES", "LG Innotek", "Apple"), "active"),
        ("Apple is in talks with CATL over the supply of batteries.", ("SUPPLIES", "CATL", "Apple"), "possible"),
        ("Nio currently uses Qualcomm chips in its cars.", ("SUPPLIES", "Qualcomm", "Nio"), "active"),
        ("Chery will make cars in Spain through a joint venture with Dongfeng.", ("PARTNERS_WITH", "Chery", "Dongfeng"), "active"),
        ("ZF builds the gearbox in Saarbrücken, in South Carolina and in Shanghai.", ("MANUFACTURES_AT", "ZF", "Shanghai"), "active"),
        ("Exide is setting up a factory for battery cells in Bengaluru, Karnataka.", ("MANUFACTURES_AT", "Exide", "Bengaluru"), "planned"),
        ("Agratas is building a cell plant. Jaguar Land Rover and Tata Motors will be its first customers.",
         ("SUPPLIES", "Agratas", "Tata Motors"), "planned"),
        ("BMW is the biggest customer of Northvolt.", ("SUPPLIES", "Northvolt", "BMW"), "active"),
        ("Hyundai has no plant there, although some of its models are assembled in Vietnam and Malaysia.",
         ("MANUFACTURES_AT", "Hyundai", "Malaysia"), "active"),
        ("Toyota is developing solid-state batteries with Idemitsu Kosan.", ("PARTNERS_WITH", "Idemitsu Kosan", "Toyota"), "active"),
        ("BMW has signed a contract with Ganfeng Lithium for lithium from mines in Australia.",
         ("SOURCES_FROM", "BMW", "Australia"), "active"),
        ("Ford has signed a preliminary deal to buy lithium from Lake Resources.", ("SUPPLIES", "Lake Resources", "Ford"), "planned"),
        ("BMW signed a non-binding agreement with Northvolt for the supply of cells.", ("SUPPLIES", "Northvolt", "BMW"), "planned"),
        ("BMW has signed a contract to buy cells from CATL.", ("SUPPLIES", "CATL", "BMW"), "active"),
        ("Horizon Robotics counts Audi, Continental, Li Auto and SAIC among its customers.",
         ("SUPPLIES", "Horizon Robotics", "Li Auto"), "active"),
        ("SQM signed a deal with Kia. The Chilean miner, which already counts Ford among its customers, said so.",
         ("SUPPLIES", "SQM", "Ford"), "active"),
        ("VW already holds stakes in joint ventures with JAC, SAIC and FAW.", ("PARTNERS_WITH", "FAW", "Volkswagen"), "active"),
        ("General Motors will work on the chips with Qualcomm and NXP.", ("PARTNERS_WITH", "General Motors", "NXP"), "planned"),
        ("BYD has ruled out the UK as the site of its first European car factory.",
         ("MANUFACTURES_AT", "BYD", "United Kingdom"), "denied"),
        ("Honda and LG Energy Solution have picked Ohio as the home of their joint venture battery plant.",
         ("MANUFACTURES_AT", "Honda", "Ohio"), "planned"),
        ("SQM can currently make 40,000 tons of lithium hydroxide a year in Chile.", ("MANUFACTURES_AT", "SQM", "Chile"), "active"),
    ],
)
def test_frames_and_statuses_in_context(nlp, text, claim, status):
    found = claims_of(nlp, text)
    assert claim in found, found
    assert found[claim].status == status


def test_no_claim_from_a_news_agency_or_a_sale_of_a_unit(nlp):
    found = claims_of(nlp, "Ford is selling its Volvo unit to Geely, Reuters reported.")
    assert not found


def test_claims_survive_worker_processes(nlp):
    from pipeline.nlp import extract_many

    texts = ["Panasonic will supply battery cells to Mazda from 2027.", "Ford walked away from its partnership with Rivian."] * 2
    single = list(extract_many(nlp, texts, batch_size=1))
    parallel = list(extract_many(nlp, texts, batch_size=1, n_process=2))
    assert [e.claims for e in parallel] == [e.claims for e in single]
    assert parallel[0].claims[0].relation == "SUPPLIES"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("BMW replaced Northvolt with Samsung SDI as its cell supplier.",
         {("SUPPLIES", "Northvolt", "BMW"): "ended", ("SUPPLIES", "Samsung SDI", "BMW"): "active"}),
        ("Ford switched from LG Energy Solution to SK On for its pickup batteries.",
         {("SUPPLIES", "LG Energy Solution", "Ford"): "ended", ("SUPPLIES", "SK On", "Ford"): "active"}),
        ("Tesla dropped Mobileye as a supplier.", {("SUPPLIES", "Mobileye", "Tesla"): "ended"}),
        ("Bosch will not renew its contract with BMW.", {}),
        ("CATL supplies cells to BMW from 2026.", {("SUPPLIES", "CATL", "BMW"): "planned"}),
    ],
)
def test_supplier_switches_and_start_dates(nlp, text, expected):
    found = {key: claim.status for key, claim in claims_of(nlp, text).items() if key[0] == "SUPPLIES"}
    for key, status in expected.items():
        assert found.get(key) == status, found


@pytest.mark.parametrize(
    "published, status",
    [(None, "planned"), ("2025-03-01", "planned"), ("2026-05-10", "planned"), ("2028-01-15", "active")],
)
def test_start_dates_are_read_against_the_publication_date(nlp, published, status):
    """'from 2026' is still ahead in 2025 and in 2026, behind us in 2028."""
    claims = extract(nlp, "CATL supplies cells to BMW from 2026.", published).claims
    assert [(c.subject, c.object, c.status) for c in claims] == [("CATL", "BMW", status)]


def test_publication_dates_cross_worker_processes(nlp):
    from pipeline.nlp import extract_many

    texts = ["CATL supplies cells to BMW from 2026."] * 4
    dates = ["2028-01-15", None, "2028-01-15", None]
    parallel = list(extract_many(nlp, texts, batch_size=1, n_process=2, published=dates))
    assert [e.claims[0].status for e in parallel] == ["active", "planned", "active", "planned"]


def test_comma_joined_place_is_one_place(nlp):
    found = claims_of(nlp, "Exide is setting up a factory for battery cells in Bengaluru, Karnataka.")
    assert ("MANUFACTURES_AT", "Exide", "Karnataka") not in found


def test_long_texts_are_read_in_parts_with_offsets_kept(nlp, monkeypatch):
    from pipeline import nlp as nlp_stage

    monkeypatch.setattr(nlp_stage, "CHUNK_CHARS", 200)
    text = "\n".join([
        "Ford and Rivian announced a partnership on electric vans on Monday, the companies said.",
        "Analysts said the deal was worth several hundred million euros over its lifetime.",
        "Bosch supplies electric axles to Volvo Cars under a long-term contract signed last year.",
        "Later, Ford walked away from its partnership with Rivian, a spokesperson confirmed.",
    ])
    assert [offset for offset, _part in nlp_stage.chunks_of(text)] == [0, text.index("Bosch")]
    [whole] = list(nlp_stage.extract_many(nlp, [text]))
    for mention in whole.mentions:
        assert text[mention.start:mention.end] == mention.text
    found = {(c.relation, *sorted((c.subject, c.object))): c for c in whole.claims}
    assert found[("PARTNERS_WITH", "Ford", "Rivian")].status == "ended"  # the later part's reading wins
    assert found[("SUPPLIES", "Bosch", "Volvo Cars")].evidence in text
    for claim in whole.claims:
        assert text[claim.sentence_start:].startswith(claim.evidence[:20])

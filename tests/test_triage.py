"""Red-flag triage: each rule fires on realistic wording; ordinary questions raise nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.loader import Content, load_seeds
from knowledge.models import RedFlagLevel, RedFlagRule
from knowledge.triage import Triage, triage


@pytest.fixture(scope="module")
def content() -> Content:
    loaded, problems = load_seeds(Path(__file__).resolve().parent.parent / "seeds")
    assert problems == []
    return loaded


@pytest.fixture(scope="module")
def rules(content: Content) -> list[RedFlagRule]:
    return content.red_flags


@pytest.fixture(scope="module")
def checker(content: Content) -> Triage:
    return Triage(content.red_flags, content.triage_terms)


# Wordings written for the tests, beyond the examples in the seed file: slang, typos, no capitals.
REALISTIC = {
    "clot-in-lung": [
        "came home from a long flight and now I'm suddenly breathless",
        "Calf swollen since my flight and now I'm breathless going up stairs",
        "leg hurts and i get chest pains when i breathe",
    ],
    "heart-attack": [
        "pain in my jaw and left arm and I'm clammy",
        "Cramp in my left arm and my chest feels tight",
        "chest pain and i'm all sweaty and clammy",
        "pain in my chest radiating to my back",
        "i think im having a heart attack in the middle of my game",
    ],
    "cauda-equina": [
        "numbness between my legs and I can't pee",
        "back spasm and i cant pee properly",
        "Lower back pain, numbness in my groin area",
        "my back went and now I've lost control of my bowels",
    ],
    "rhabdomyolysis": [
        "pee is dark like cola after crossfit",
        "urine looks like tea after leg day at the gym, thighs super sore",
        "my wee is brown after a spin class",
    ],
    "severe-dehydration": [
        "He's confused after the race in the heat",
        "haven't had a wee since this morning and feel awful",
        "she had a seizure after running in the heat",
    ],
    "over-drinking": [
        "drank like 6 litres of water and now I'm vomiting",
        "been necking water all day to stop cramps, now my head is pounding and i feel sick",
    ],
    "stroke": [
        "my grandma's smile looks lopsided and she can't lift her arm",
        "woke up and my right side feels weak and my words are coming out wrong",
        "sudden weakness in my left leg, not a cramp, cant lift it",
    ],
    "sepsis": [
        "wound on my leg is infected and now i have a fever and i'm breathing fast",
        "could this be sepsis",
    ],
    "spinal-injury": [
        "dived into a shallow pool and my neck hurts, fingers are tingly",
        "had a fall from a horse, back is agony and my legs feel numb",
    ],
    "limb-ischaemia": [
        "my hand went white and freezing out of nowhere and really hurts",
        "leg suddenly pale and cold, what is happening",
    ],
    "compartment-syndrome": [
        "broke my arm, it's in plaster and the pain is getting unbearable and fingers numb",
        "got kicked in the calf at rugby, calf is rock hard swollen and the pain is excruciating",
    ],
    "heatstroke": [
        "my friend is confused and very hot after the hike in the sun",
        "passed out at the festival in the heat",
        "is it heatstroke, he has stopped sweating",
    ],
    "tetanus": [
        "cut my hand on a rusty fence and now it's spasming",
        "lock jaw after a dog bite",
        "stood on a nail in the garden and my jaw feels stiff",
    ],
    "statin-muscle": [
        "cramps since i started taking atorvastatin",
        "on rosuvastatin and my shoulders ache and feel weak",
    ],
    "low-calcium": [
        "numb tingly mouth and my fingers are curling up",
        "after my thyroid operation my hands keep cramping into a claw",
    ],
    "child-limp-fever": [
        "my daughter has a temperature and keeps limping",
        "toddler won't walk on his leg and has a fever",
    ],
    "child-dehydration": [
        "baby only had 2 wet nappies today and keeps being sick",
    ],
    "neck-nerve": [
        "stiff neck and now my fingers are numb",
        "neck pain with pins and needles down my arm",
    ],
    "back-red-flags": [
        "back spasm and I have a fever",
        "lower back pain that gets worse at night",
    ],
    "pregnancy-warning": [
        "pregnant, leg cramps and my face and hands suddenly swelled up",
    ],
    "twitching-weakness": [
        "my calf has been twitching for weeks",
        "arm twitching and my hand is getting weaker",
    ],
    "task-cramp": [
        "hand curls up only when writing, months now",
    ],
    "sudden-headache": ["a headache hit me out of nowhere, the worst ever, like a thunderclap"],
    "anaphylaxis": ["bee sting and now my face is swelling and i feel faint"],
    "heat-exhaustion": ["working outside in the heatwave and i feel dizzy and sick with cramps"],
    "possible-fracture": ["rolled my ankle and can't put any weight on it"],
    "body-salts": ["on furosemide, cramps and my heart keeps skipping"],
    "shingles": ["blisters in a band on one side with burning pain"],
    "high-blood-sugar": ["my ketones are high and my legs cramp"],
    "antibiotic-tendon": ["my achilles hurts since i started levofloxacin"],
    "jaundice": ["my skin has gone yellow and i get cramps"],
    "wound-infection": ["the cut on my hand is oozing pus and getting redder"],
    "cramps-with-condition": ["on dialysis and my legs cramp during sessions"],
    "lasting-pain": ["back pain for 6 weeks that isnt getting better"],
    "rigid-fever-medicine": ["on risperidone, muscles gone rigid and running a fever"],
    "severe-tetany": ["after my neck operation my lips tingle and my hands cramp into claws"],
    "hot-swollen-joint": ["my big toe went red and swollen overnight and is agony"],
    "mastitis": ["breastfeeding and i have a fever and a sore breast"],
    "tick-rash": ["bitten by a tick last week and now a rash is spreading"],
    "after-drowning": ["nearly drowned at the lake earlier, now coughing and breathless"],
    "chest-injury-breathing": ["got kicked in the ribs at football, now struggling to breathe"],
    "aortic-aneurysm": ["dad has a throbbing in his tummy and bad back pain, nearly fainted"],
    "bloody-diarrhoea": ["bloody diarrhoea since this morning and cramps"],
    "uti": ["pregnant and it stings when i wee"],
    "dental-infection": ["had a tooth pulled on monday and now i have a fever"],
    "rest-pain": ["toes have gone dusky and my foot aches at night"],
    "bowel-change": ["there has been blood in my poo twice this week"],
    "gaping-cut": ["sliced my finger on a tin, the cut is gaping"],
    "repeated-hypos": ["keep having hypos on my insulin, four this week"],
    "severe-hypo": ["my mum is diabetic and shes gone muddled and shaky after a walk"],
    "chest-infection": ["been coughing up green phlegm for days and now i have a fever"],
    "abdominal-injury": ["took a knee to the belly in a tackle and now i feel dizzy"],
    "faint-during-exercise": ["i passed out during a run today, came round straight away"],
    "gallstones": ["pain under my right ribs for hours after dinner"],
    "double-vision": ["been seeing double since this morning"],
    "tetanus-prone-wound": ["deep cut from rusty metal and i dont remember my last tetanus jab"],
    "cut-tendon": ["sliced my hand on a knife and now i cant straighten my finger"],
    "painful-red-eye": ["my eye is red and sore and bright light really hurts it"],
    "severe-bleeding": ["blood is spurting out of the cut on my arm"],
    "collapsed-not-responding": ["my mate went down at parkrun and now hes not responding"],
    "giant-cell-arteritis": ["my grandad gets jaw pain when chewing and a new headache"],
    "baby-breathing": ["my 3 week old is grunting on every breath"],
    "child-no-weight": ["my toddler refuses to put weight on her left leg today"],
    "hives-new-trigger": ["came out in hives after a new protein powder"],
    "alcohol-withdrawal": ["gave up booze 2 days ago and im hallucinating"],
    "alcohol-withdrawal-shakes": ["stopped drinking yesterday after weeks on it, bad shakes"],
    "baby-movements": ["34 weeks and baby has stopped moving since this morning"],
    "eating-disorder-danger": ["she has bulimia and her heart rate is really low and slow"],
    "long-lie": ["my nan couldnt get up after a fall and was on the floor for hours"],
    "sickle-cell-crisis": ["sickle cell and a high fever tonight"],
    "drug-rash": ["new antibiotics and now a rash and fever"],
    "steroids-chickenpox": ["taking prednisolone and my flatmate has shingles"],
    "rising-weakness": ["numbness and weakness in both legs getting worse since yesterday"],
    "groin-lump": ["bulge in my groin that goes back when i lie down"],
    "heavy-periods-tired": ["really heavy periods and i am always tired"],
    "energy-drink-palpitations": ["3 monsters a day and my heart races at night"],
    "over-drinking-early": ["downed 6 litres of water today for a weigh in, now a headache"],
    "concussion": ["took a ball to the head in the match, had a headache since"],
    "eye-injury": ["got poked in the eye at basketball and now its blurry"],
    "raynauds": ["in winter my toes go white and numb when im outside"],
    "clot-history-travel": ["history of dvt, got a long haul flight soon, advice?"],
    "child-fever-days": ["my son has had a fever for 6 days now, still hot"],
    "severe-skin-reaction": ["started new pills and now theres a rash with sores in my mouth"],
    "throat-swelling-danger": ["throat so bad im drooling and cant swallow anything"],
    "broken-bone": ["grandad fell and his leg is pointing at an odd angle"],
    "retina": ["seeing flashes of light and a bunch of new floaters in one eye"],
    "animal-bite": ["neighbours dog bit my hand, deep puncture, stopped bleeding"],
    "lithium-toxicity": ["on lithium and my hands have got shaky and i keep throwing up"],
    "fluids-wont-stay-down": ["cant keep any water down since yesterday, throwing up all day"],
    "heavy-period": ["period is soaking through pads every hour, heavy bleeding"],
    "asthma-worse": ["asthma has been getting worse for days, using my inhaler every 2 hours"],
    "asthma-attack": ["my inhaler isnt helping and i can barely breathe"],
    "period-pain-severe": ["period pain so bad i miss school, ibuprofen doesnt help"],
    "growing-lump": ["there is a lump on my shin that keeps getting bigger"],
    "varicose-veins": ["my varicose veins ache after standing all day at work"],
    "exertional-muscle-swelling": ["did 100 squats, thighs swollen, cant straighten my legs"],
    "seizure": ["my friend collapsed and was jerking all over"],
    "diabetic-ketoacidosis": ["diabetic, throwing up and breathing really fast"],
    "testicular-torsion": ["my son has sudden pain in his testicle and feels sick"],
    "ectopic-pregnancy": ["missed period and a sharp pain low on my right side, feel faint"],
    "overdose": ["i took a whole packet of ibuprofen for my back"],
    "unresponsive": ["mate took something at the party and now hes unresponsive"],
    "snake-bite": ["think a snake bit my leg while hiking, the bite is swelling"],
    "aortic-dissection": [
        "suddenly this tearing pain went through my back, worst ever, i feel faint"
    ],
    "vomiting-blood": ["coughed and then vomited blood after days of stomach cramps"],
    "stuck-hernia": ["my hernia has gone hard and painful and i keep being sick"],
    "carbon-monoxide": ["whole family has headaches and the gas heater smells weird"],
    "pregnancy-bleeding": ["24 weeks pregnant, pouring blood and cramping"],
    "acute-dystonia": ["on haloperidol and my eyes keep rolling up on their own"],
    "black-stool": ["my stools have been black like tar since i started naproxen"],
    "quinine-side-effects": ["been on quinine for months and now i have tinnitus"],
    "pelvic-infection": ["pelvic pain and a fever and discharge, is it just my period"],
    "blocked-bowel": ["havent been able to fart or poo for days and now im vomiting, tummy cramps"],
    "head-injury": ["kid bumped his head on the swing and now hes drowsy and been sick"],
    "serious-burn": ["scalded my toddlers hand with hot tea and its blistering"],
    "appendicitis": ["sharp pain in my lower right belly getting worse, is it a stitch"],
    "bad-sunburn": ["sunburnt on holiday and now i have a fever and feel sick"],
    "young-baby-unwell": ["our newborn has a fever and wont settle"],
    "vomiting-dehydration": ["been throwing up since yesterday and have barely peed"],
    "heart-rhythm": ["my heart is racing and i feel dizzy and lightheaded"],
    "bleeding-on-thinners": ["on apixaban and my thigh has a huge bruise after a knock"],
    "child-leg-pain": [
        "my son keeps limping after school",
        "my girl has a puffy swollen knee and it hurts",
    ],
    "meningitis": [
        "stiff neck with a high temperature",
        "my neck hurts and I have a fever",
        "neck is stiff and the light hurts my eyes",
    ],
    "clot-in-leg": [
        "one of my calves is swollen and red",
        "my calf is warm and throbbing",
        "leg swelling on one side",
        "clot in my calf after a nosebleed",
    ],
    "kidney-stones": [
        "back pain and blood in my urine",
        "pain in my side coming in waves",
        "flank pain with chills",
    ],
    "long-cramp": [
        "my calf cramp has lasted over 15 mins",
        "cramp won't stop",
        "cramp has been going for an hour",
    ],
    "new-medicine": [
        "changed my blood pressure medication and now get cramps",
    ],
    "frequent-cramps": [
        "my legs cramp every night",
        "cramps wake me up every night",
        "cramps ruining my sleep",
    ],
    "claudication": [
        "calves ache when i walk and it goes away when i stop",
        "my legs cramp walking uphill, better after I rest",
    ],
}

ORDINARY = [
    "my calf cramps after running",
    # A named condition in a story, a game or another part of the body is not the asker's.
    "my sim had a heart attack in the sims 4, how do i stop it",
    "my character died of a heart attack in the show lol",
    "nose bled and there is a clot of blood in my nostril",
    "knees crack when i squat but there is no pain",
    "i thought it was a stroke but my arm was only asleep from lying on it",
    "chest sore after bench, hurts when i press on the pec, no breathlessness",
    "calf cramp after a long drive, went as soon as i stretched",
    "both ankles puffy after a long flight, swelling went down overnight",
    "what else helps avoid dvt on a flight besides flight socks",
    "whos sorting the fitting for the new kit, need a bigger size",
    "how do I stretch my neck",
    "charley horse",
    "what is a hot stone massage",
    "how much water should I drink a day",
    "is a massage mat good for back pain",
    "what colour should my pee be",
    "hand cramps while gaming",
    "woke up with a cramp in my foot",
    "does pickle juice work for cramps",
    "I run for an hour and get cramps",
    "stretches for lower back",
    "cramp in my thigh during football",
    "back went into spasm lifting a box",
    "sports drink or water during a long run",
    "how long should I hold a hamstring stretch",
    "is foam rolling good after the gym",
    "leg cramps in pregnancy",
    "can magnesium help cramps",
    "should I use ice or heat on a sore muscle",
    "crick in my neck from sleeping funny",
    "what causes muscle spasms",
]


def test_every_rule_has_realistic_wordings(rules: list[RedFlagRule]) -> None:
    assert {rule.id for rule in rules} == set(REALISTIC)


@pytest.mark.parametrize(
    ("rule_id", "text"), [(rule, text) for rule, texts in REALISTIC.items() for text in texts]
)
def test_rule_fires_on_realistic_wording(checker: Triage, rule_id: str, text: str) -> None:
    assert rule_id in [flag.id for flag in checker.check(text)]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_questions_raise_nothing(checker: Triage, text: str) -> None:
    assert checker.check(text) == []


def test_flags_come_most_urgent_first(checker: Triage) -> None:
    flags = checker.check("new medication, cramps every night, calf swollen and short of breath")
    levels = [flag.level for flag in flags]
    assert levels == sorted(levels, key=lambda level: level.rank)
    assert levels[0] is RedFlagLevel.EMERGENCY
    assert {f.id for f in flags} >= {"clot-in-lung", "clot-in-leg", "new-medicine"}


def test_flags_carry_message_and_source(checker: Triage, rules: list[RedFlagRule]) -> None:
    (flag,) = [f for f in checker.check("stiff neck and a fever") if f.id == "meningitis"]
    rule = next(r for r in rules if r.id == "meningitis")
    assert flag.message == rule.message and flag.source == rule.source
    assert flag.level is RedFlagLevel.EMERGENCY


def test_invisible_characters_and_case_do_not_hide_a_flag(checker: Triage) -> None:
    assert [f.id for f in checker.check("STIFF NECK and a F\u200bEVER")] == ["meningitis"]
    fullwidth = "stiff neck and a \uff26\uff25\uff36\uff25\uff32"
    assert [f.id for f in checker.check(fullwidth)] == ["meningitis"]


def test_function_form_matches_compiled_form(content: Content) -> None:
    text = "pee is dark like cola after crossfit and my legs ache"
    assert triage(text, content.red_flags, content.triage_terms) == Triage(
        content.red_flags, content.triage_terms
    ).check(text)

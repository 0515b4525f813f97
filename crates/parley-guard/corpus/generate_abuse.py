#!/usr/bin/env python3
"""Writes abuse.jsonl next to this script: the abuse scorer's labelled corpus.

Deterministic (fixed seed): re-running it reproduces the committed file byte for byte, so a
change to the corpus is always a reviewed diff of this script.

    python3 crates/parley-guard/corpus/generate_abuse.py

Written for issue 14 (defect 7) BEFORE the scorer was tuned against it: the benign half is
what a support bot reads all day — order numbers and ticket ids that mix letters and digits
("N34", "n94", "#A-10293", "ORD-55812"), SKUs, tracking codes, postcodes, street addresses,
people's and places' names that contain a rude substring (the "Scunthorpe problem": Dick,
Cockburn, Hancock, Penistone, shiitake), frustrated but polite complaints, typos, and
Unicode oddities (zero-width spaces, non-breaking spaces, full-width digits, soft hyphens).
The abusive half is insults aimed at the agent or the company's staff, slurs, threats and
harassment, plain and disguised. Mild swearing at a thing ("damn, late again") is labelled
benign ("salty"): the scorer gives it a low score on purpose and it must not count towards
escalation.

Out of scope, and so left out: benign text whose word *is* a listed word as written (the
village of F*cking, "faggots and peas", a code that spells a slur in leetspeak). No word
list can pass those without letting the word through everywhere; the corpus measures the
Scunthorpe problem (a rude *substring* of a longer name) and codes that only look like
words once digits are read as letters.

abuse.jsonl lines: {"text": ..., "abusive": true|false, "category": ..., "source": "generated"|"handwritten"}

Lines with source "handwritten_blind" (category "blind") were added after the tuning and
never tuned on: they show how the figures generalise.

A false positive is a benign line scored at or above the abusive threshold (0.5); recall is
the share of abusive lines scored at or above it.
"""

import json
import os
import random

SEED = 20261203
rng = random.Random(SEED)
HERE = os.path.dirname(os.path.abspath(__file__))

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def digits(n):
    return "".join(str(rng.randint(0, 9)) for _ in range(n))


def alnum(n):
    return "".join(rng.choice(LETTERS + "0123456789") for _ in range(n))


# ---------------------------------------------------------------- benign, handwritten

# The three messages from the issue, and their close relatives.
ISSUE = [
    "ticket N34 please",
    "order n94",
    "what are your ho\u200burs",
    "ticket n34 please",
    "Order N94 hasn't arrived",
    "what are your hours",
    "wh\u200bat are your opening ho\u200burs on Sunday?",
    "ticket N34 - any update?",
    "order N94, N95 and N96 were all charged twice",
    "re: ticket n34",
]

ORDERS_AND_CODES = [
    "Hi, where is my order #A-10293?",
    "Order ORD-55812 still says processing after 5 days",
    "my tracking number is 1Z999AA10123456784 but UPS says label created only",
    "Can you check order N12? It was supposed to arrive Monday",
    "I have two orders, n88 and n89, only one came",
    "Ticket T-4471 was closed but nobody answered me",
    "refund for order 4471-XK please",
    "SKU-9921 is out of stock again, when will it be back?",
    "Is SKU A1B2C3 available in blue?",
    "the promo code SAVE20 doesn't work at checkout",
    "discount code WELCOME10 says expired but the email says valid till friday",
    "Voucher code XMAS24 not accepted",
    "I got error code E-404 when paying",
    "App shows error 0x80070005 when I try to log in",
    "Error NS-2034 on the payment page",
    "my invoice INV-2024-00871 has the wrong VAT number",
    "Can I get a copy of invoice #88213?",
    "case number CS0041782, following up",
    "Reference: REF/2291/B",
    "booking ref K7P9QX, I need to change the date",
    "PNR is ZX4N2K, can I add a bag?",
    "flight BA0287 got cancelled, what are my options for booking 6HJ2LM",
    "Train ticket code TL-88K-2Q not scanning at the gate",
    "Parcel JD014600006281234567 is stuck in the depot",
    "Royal Mail tracking AB123456789GB hasn't updated in a week",
    "DHL waybill 1234567890 shows delivered but nothing here",
    "FedEx 7946 1234 5678 says exception",
    "USPS 9400 1000 0000 0000 0000 00 stuck in transit",
    "The serial number is SN-4G7H-22KL, warranty claim please",
    "model number WM-8420X, the drum doesn't spin",
    "Part no. 44-A9-113 arrived broken",
    "My account ID is ACC-00231984",
    "customer no. C-77812, I moved house",
    "membership number M4471 expired?",
    "Policy number POL/88/1132-Z renewal question",
    "claim CLM-2024-11873 status?",
    "IMEI 356938035643809 is blocked, please unblock",
    "SIM ICCID 8944 1100 0000 1234 567 not activating",
    "my router S/N is 21X4ND9931, it keeps rebooting",
    "Licence key 7H2K-9XQ4-PL3M-88ZD says invalid",
    "Workspace id ws_8f3k2, can't invite users",
    "API key starting with pk_live_4eC39 keeps returning 401",
    "build 4.12.3 crashes on startup, iOS 17.2",
    "version v2.3.1-rc2 broke the export",
    "Release 2024.11 removed the dark mode??",
    "table 14, order N7, still waiting for the drinks",
    "Order n3 from the lunch menu had no sauce",
    "I ordered the no.5 combo and got the no.9",
    "Can you resend the code? The SMS said 448 213 but it expired",
    "verification code 0X4N not working",
    "Gift card 6006 4912 3345 balance please",
    "voucher N1CE-D4Y not valid?",
    "my order number is N69, it never arrived",
    "order N88 please cancel",
    "order number NG-1488 was damaged",
    "ticket SHT-442 is still open",
    "Invoice no. 455-H0L3 incorrect",
    "order 69 and order 420 both delayed lol",
    "order n420 where is it",
    "The code on the box is SX-69-NT",
    "I need the form W-8BEN for my account",
    "Do you ship to APO AE 09012?",
    "My reference is 88/A/69",
    "ticket #N-34 reopened",
    "order n 94",
    "Please check N34 and N35",
    "item N-94 was the wrong size",
]

ADDRESSES_AND_POSTCODES = [
    "Please deliver to 10 Downing Street, London SW1A 2AA",
    "My postcode is SW1A 1AA, is there a store nearby?",
    "Do you deliver to 94105?",
    "New address: 221B Baker Street, London NW1 6XE",
    "Ship to 1600 Amphitheatre Pkwy, Mountain View, CA 94043",
    "I live at 4 Cockburn Street, Edinburgh EH1 1BP",
    "The parcel went to Scunthorpe DN15 6XJ instead of Leeds",
    "Penistone S36 6BE - can you deliver there on Saturdays?",
    "Deliver to Middlesex TW3 1AB please",
    "Is Essex covered? My postcode is CM1 1AA",
    "Dorking RH4 1AA, first floor flat",
    "I'm in Clitheroe BB7 2AA, no delivery slots at all",
    "My address is 12 Butt Lane, Blackburn BB1 1AA",
    "Please update to 5 Cumloden Court, Glasgow G12 8QQ",
    "Delivery to Wankum, Germany, 47669 possible?",
    "We're at 88 Shitterton Lane, Dorset",
    "address: Lickey End, Bromsgrove B60 1AA",
    "Please send to Cockermouth CA13 9AA",
    "Hoare Road, Swansea SA1 1AA",
    "I moved to Bitche, 57230 France",
    "Rue de la Paix 12, 75002 Paris",
    "Hauptstrasse 5, 10115 Berlin",
    "Calle Mayor 3, 28013 Madrid",
    "Via Assisi 14, 06081 Assisi PG",
    "postcode N4 3HF, is next day available?",
    "Is N1 9GU in your delivery area",
    "E14 5AB, second floor, buzzer broken",
    "W1K 7TN concierge will sign for it",
    "BT1 5GS Belfast, do you ship to Northern Ireland?",
    "M4 3AQ Manchester, the courier said address not found",
    "zip 10001, apartment 4F",
    "PO Box 1234, Anchorage AK 99501",
    "G2 3QT is my postcode, not G2 3OT",
    "EH99 1SP? that's the parliament, sorry typo, EH9 1SP",
    "Lot 7, Rural Route 2, Moose Jaw SK S6H 4N7",
    "V6B 4Y8 Vancouver, how long is shipping",
    "postcode 2000 Sydney NSW",
    "My postcode is DN16 1AA, Scunthorpe, not Scunthorp",
    "Deliver to the Butte County office, CA 95965",
    "5 Dicks Lane, Rochdale OL12 7AA",
    "Cumming, GA 30040",
    "Intercourse, PA 17534 — yes that's the real town name",
    "Blue Ball, PA 17506",
    "Middelfart, Denmark 5500",
    "Bastardo, Italy, 06030, frazione of Giano dell'Umbria",
    "Twatt, Orkney KW17 2JY",
    "Spanish Fork UT 84660 delivery please",
]

NAMES = [
    "Hi, my name is Dick Johnson and I can't log in",
    "This is Richard 'Dick' Van Dyke, order #55102",
    "Please ask Mr Cockburn to call me back",
    "Account holder: Alexander Cockburn",
    "I spoke to Tom Hancock yesterday about my refund",
    "Herbie Hancock vinyl arrived scratched",
    "Tell Mrs Butts I said thanks!",
    "The order is for Sarah Gaylord",
    "Contact: Mike Hunt, he's our office manager",  # a real surname combination; polite
    "My surname is Assman, please stop 'correcting' it to Ass man",
    "Name on the card: Peter Dickinson",
    "Emily Dickinson poetry collection, hardcover, order 77123",
    "Please address the parcel to Dr. Fanny Cockerell",
    "It's for my grandma Fanny",
    "Dear Mr. Weiner, thank you for the quick reply",
    "Mr Hoare from accounts will pay the invoice",
    "My colleague Bonnie Schitt will handle returns",
    "Name: Ashit Patel",
    "The delivery is for Shital Shah",
    "Harshit Kumar here, about ticket 8812",
    "Ms. Sexton said you would email me",
    "Please forward to Nigel Cumming",
    "John Titmuss, order 4412",
    "I'm Pussycat Dolls' biggest fan, is the vinyl back?",
    "Hi it's Analise, my order n34 never shipped",
    "Hello, Cumberbatch here, I need to return the coat",
    "Signed, Mr. & Mrs. Glasscock",
    "Regards, Dick Smith (Sydney)",
    "Please contact Jerk Tomasson (yes, that's Jerk, Estonian name)",
    "My name is Fuk Yu Lam and your form rejects it",
    "Phuc Nguyen - my account keeps saying invalid name",
    "Name: Nguyen Van Phuc, DOB on file",
    "Arsenault, Jean — customer since 2015",
    "Ms Lesbury from Middlesbrough",
    "My name is Dong and the sign-up form says it's inappropriate",
    "Ho Chi Minh City delivery, recipient Tran Thi Ho",
    "Mrs Ho called earlier about order 5512",
    "Please ask Hoe Kim to sign for it",
    "The recipient is Nicholas Butt",
    "Hi, Kuntz here. Order 90021",
    "Hello, I'm Mrs. Cox, order number CX-1120",
    "Account under Sexsmith, Robert",
    "My late husband Mr. Wang's account needs closing",
    "Dr. Kuntal Shah has an appointment at 3pm",
    "Baba Ganoush? no, Babak Gharavi, order 22871",
    "Order for Dikshit, Sheila",
    "Ask for Titus at the front desk",
    "Cassandra's order is the one with the screws missing",
    "Essex Nixon, the name on the account",
    "Passed to Hitchcock in your team last week",
]

PRODUCTS_AND_PLACES = [
    "Do you have shiitake mushrooms in stock?",
    "The shitake mushrooms were mouldy",
    "The shiitake risotto was cold",
    "I ordered the cocktail sausages but got the chipolatas",
    "The cocktail shaker lid doesn't fit",
    "Is the Assassin's Creed bundle still on sale?",
    "Pre-order for Assassin's Creed Shadows, order N3",
    "The Scunthorpe United shirt is the wrong size",
    "Match tickets for Scunthorpe vs Grimsby",
    "Do you sell cockatoo food?",
    "Hancock's Half Hour DVD box set, disc 3 is missing",
    "My booking is for the Penistone line train",
    "Hotel in Assisi for 3 nights, booking 99812",
    "Is the Dickens Christmas Carol audiobook unabridged?",
    "Moby Dick hardcover arrived with a torn jacket",
    "Can I buy the Moby-Dick box set with a gift card?",
    "Spotted dick pudding is sold out again!",
    "Sussex wine tasting, tickets for 4",
    "The Middlesex hospital parking code doesn't work",
    "Analytics dashboard shows wrong numbers",
    "Therapist booking for Tuesday",
    "class assignment for my assessment isn't uploading",
    "The passage about massive passes in the manual is wrong",
    "Basement flooding, need a plumber asap",
    "Can I cancel my Hotmail? No sorry, Hotspot plan",
    "Button on the cocktail mixer snapped",
    "Titmouse bird feeder arrived without the hook",
    "Bush Hog mower parts catalog",
    "the kit includes two Cockcroft-Walton multipliers, one is dead",
    "Is the Hanukkah gift wrap available?",
    "Butterscotch ice cream was melted on arrival",
    "My Shih Tzu's prescription food, order 22817",
    "Weiner schnitzel was overcooked",
    "Grape nuts cereal, the box was crushed",
    "Pumpkin spice latte is too sweet, can I get a refund",
    "The bass guitar strings (0.45 gauge) are the wrong size",
    "Need a quote for 300 pcs of screws M4x12",
    "Cumin and coriander were missing from the spice kit",
    "The Cumbria tour was cancelled, refund?",
    "Prickly pear jam jar was cracked",
    "Dickies work trousers, size 34, arrived in 36",
    "The Sex Pistols t-shirt is faded after one wash",
    "Ordered Kill Bill Vol. 2 on Blu-ray, got Vol. 1",
    "Breaking Bad box set, disc 4 skips",
    "The butt joint hinges are the wrong finish",
    "I need a cockpit cover for my boat, model ZX-44",
    "the angry birds plush toy is missing an eye",
    "Can you recommend a stain remover for red wine?",
]

FRUSTRATED_POLITE = [
    "This is ridiculous, third time I ask about order N34",
    "This is ridiculous, it's the third time I ask",
    "I'm really disappointed, order n94 is two weeks late",
    "Honestly this is unacceptable, I want a refund",
    "I've been waiting on hold for an hour, this is terrible service",
    "Why is this so hard? I just want to cancel",
    "I am so fed up with these delays",
    "Your website is a nightmare to use",
    "the app crashed AGAIN, I'm losing my patience",
    "I'm very angry about being charged twice",
    "This is the worst delivery experience I've had",
    "Seriously?? Another delay??",
    "I'm beyond frustrated. Please just call me.",
    "Not happy at all. The sofa arrived damaged.",
    "I expect a full refund for this mess",
    "Please stop sending me the same useless template answer",
    "The instructions are useless, I can't assemble it",
    "your checkout page is broken, I can't pay",
    "This is a joke, the price went up while I was paying",
    "The router is garbage, it drops every 10 minutes",
    "The food was cold and the driver was rude",
    "The courier threw my parcel over the fence, not ok",
    "I'll take my business elsewhere if this isn't fixed",
    "I will be reporting this to trading standards",
    "I'm going to file a chargeback if I don't hear back by Friday",
    "Absolutely appalling service from your call centre",
    "Stop ignoring my emails please",
    "Is anyone actually reading these messages?",
    "I want to speak to a manager",
    "Can I talk to a real human please",
    "Three weeks and no answer. Not impressed.",
    "This update killed my battery life",
    "The new design is awful, where did the search go?",
    "Your prices are insane compared to last year",
    "The plan I was sold is a scam, I never agreed to extras",
    "That's a rip-off, £40 for delivery?",
    "I feel cheated by the 'free trial'",
    "ugh, the parcel is soaked, the box is destroyed",
    "I hate waiting this long for a refund",
    "I hate the new menu layout",
    "Help!!! my account is locked and I have a flight in 2 hours",
    "Why did you cancel my order without telling me?!",
    "I'm done with this. Close my account.",
    "The fries were burnt to a crisp",
    "My pizza came with pineapple, I'm allergic, this is dangerous",
    "Your chatbot keeps sending me in circles",
    "the bot doesn't understand anything, give me an agent",
    "I'm sick and tired of resetting my password",
    "The driver was 2 hours late and the ice cream melted",
    "Dreadful experience, never ordering again",
    "I'm not stupid, I did restart the router",
    "I may be old but I'm not an idiot, the button isn't there",
    "Sorry if I sound rude, I'm just exhausted",
    "I know it's not your fault, but this is killing me",
    "The delay is killing my business",
    "This charger is a fire hazard, it got really hot",
    "Kill the subscription please, I don't need it",
    "How do I kill the running job in the dashboard?",
    "The process died with exit code 137",
    "Please terminate my contract at the end of the month",
]

SALTY = [
    "damn, my parcel is late again",
    "Oh hell, I sent it to the old address",
    "crap, I ordered the wrong size",
    "what the heck is this charge?",
    "damn it, the code expired again",
    "bloody hell, 3 hours for a pizza",
    "crappy packaging, the vase broke",
    "hell no I didn't sign up for premium",
    "dang, wrong colour again",
    "Oh god, I think I paid twice",
]

TELECOM_BANKING_SAAS = [
    "My broadband has been down since 8am, account 4471982",
    "No signal at home since the mast work, postcode LS6 2AA",
    "I want to port my number to another network, PAC code please",
    "What's my STAC code?",
    "Roaming in Spain doesn't work, plan UNL-5G",
    "My bill is £20 higher than usual this month",
    "Why was I charged a late fee? I paid on the 3rd",
    "I'd like to upgrade to the 500Mb plan",
    "Can you send an engineer? The ONT light is red",
    "eSIM QR code doesn't scan",
    "I lost my card, please block it",
    "A transaction of €49.99 at AMZN MKTP DE I don't recognise",
    "How do I raise my contactless limit?",
    "My direct debit to HMRC bounced",
    "Standing order to J. Cockburn for rent didn't go out",
    "Can you increase my overdraft to 500?",
    "The mortgage offer letter has my name wrong",
    "Sort code 20-00-00, is that your branch?",
    "I need a bank statement for my visa application",
    "Why is my card declined abroad?",
    "The 2FA code never arrives",
    "Our SSO with Okta fails with SAML error 7",
    "Webhook deliveries to our endpoint time out",
    "How do I export all tickets to CSV?",
    "Can we get a DPA signed for GDPR?",
    "Seat count is wrong, we have 12 users not 15",
    "The Zapier integration stopped syncing",
    "Our workspace was downgraded to free by mistake",
    "Is there an on-prem version?",
    "Rate limit 429 errors since this morning",
    "Dark mode makes the charts unreadable",
    "How do I delete a project permanently?",
    "Invite link expired, can you resend?",
    "The mobile app logs me out every day",
    "Need to change the billing email to accounts@example.com",
    "Can you waive the cancellation fee? I was hospitalised",
    "Where do I find my IBAN in the app?",
    "My pension transfer has been pending for 6 weeks",
    "The ATM ate my card at Penistone station",
    "Fraud alert on my account, I did make that purchase",
]

TRAVEL_FOOD = [
    "My flight was delayed 5 hours, can I claim compensation?",
    "I need to add an infant to booking 7XQ2LM",
    "Can I change the name on the ticket? It says Dik instead of Dirk",
    "Is breakfast included at the Assisi hotel?",
    "Lost luggage, tag number LH 123456, flight LH0904",
    "Can I bring my dog on the ferry?",
    "Car hire desk was closed when we arrived at 23:00",
    "Room 214 has no hot water",
    "Late checkout possible for room 69?",
    "The tour guide never showed up at the meeting point",
    "Our train was cancelled, do I get a refund or a voucher?",
    "What time does check-in open for flight EZY8821?",
    "Is there a vegetarian option on the long-haul flights?",
    "Do you have wheelchair assistance at Gatwick?",
    "I'd like to upgrade to business on the return leg",
    "Missing item: 1x chicken burger, order 88123",
    "My order had the wrong drinks, ordered Coke got Fanta",
    "The restaurant cancelled my order but I was charged",
    "Can I add a tip after delivery?",
    "The rider left the food at the wrong door, flat 4B not 4D",
    "Is the lamb halal?",
    "Peanut allergy — is the satay sauce safe?",
    "Can you deliver to the hospital reception?",
    "Order from Wok'n'Roll still not here after 90 minutes",
    "Promo FREEDEL not applied to order 55X-91",
    "The sushi set was missing the salmon nigiri",
    "My groceries were substituted without asking",
    "The eggs were all broken, order G-88213",
    "Please don't ring the bell, baby sleeping",
    "Can I schedule delivery for 7:30 tomorrow?",
]

MULTILINGUAL = [
    "Bonjour, ma commande N34 n'est pas arrivée",
    "Où est mon colis ? Numéro de suivi 6A12345678901",
    "Je voudrais annuler ma commande n° 44812",
    "Hallo, meine Bestellung Nr. 55812 ist beschädigt",
    "Wo bleibt mein Paket? Sendungsnummer 00340434161234567890",
    "Ich möchte mein Abo kündigen",
    "Hola, mi pedido n94 no ha llegado",
    "¿Cuál es el horario de atención?",
    "Quiero devolver el producto, referencia SKU-7721",
    "Ciao, il mio ordine N. 8812 è in ritardo",
    "Olá, meu pedido 22871 veio errado",
    "Hoi, mijn bestelling is nog niet binnen, ordernummer 88213",
    "Dzień dobry, zamówienie nr 4471 nie dotarło",
    "Здравствуйте, мой заказ N34 не пришёл",
    "Где моя посылка? Трек RR123456789RU",
    "Добрий день, замовлення №5512 пошкоджене",
    "Merhaba, siparişim N94 hâlâ gelmedi",
    "注文番号N34の商品がまだ届きません",
    "我的订单N94还没有到",
    "주문번호 N34 배송 언제 되나요?",
    "मेरा ऑर्डर N94 अभी तक नहीं आया",
    "مرحبا، طلبي رقم 4471 لم يصل",
    "Hej, min order 88213 har inte kommit",
    "Pedido para Sra. Concha Pérez",
    "Hotel reservation in Condom, France, please",
]

UNICODE_ODDITIES = [
    "order\u00a0N34 please",
    "ticket\u00a0#A-10293",
    "where is my or\u200bder?",
    "wh\u200bere is my par\u200bcel",
    "can\u200b you\u200b help\u200b me",
    "ple\u00adase cancel my subscription",
    "order \uff2e\uff13\uff14 please",
    "\uff4f\uff52\uff44\uff45\uff52 \uff4e\uff19\uff14",
    "tracking\u2060 number 1Z999AA10123456784",
    "\u200fmy order N34 is late\u200f",
    "\ufeffHi, order n94?",
    "refund for order N\u200b34",
    "order n\u200b94",
    "my ho\u200buse number is 34",
    "ho\u200bw do I reset my password",
    "what ar\u200be your o\u200bpening ho\u200burs",
    "are you open on sunday 🤔",
    "order N34 📦 still not here 😩",
    "thanks!! 🙏🙏",
    "“Order N34” says ‘delivered’ — it isn’t",
    "order №34 please",
    "cafe\u0301 order n\u0303 34",
    "Ｔｉｃｋｅｔ Ｎ３４",
    "ORDER N34!!!",
    "oRdEr N94??",
    "h e l p  m e  p l e a s e",
    "n e e d  a  r e f u n d",
    "w h e r e  i s  o r d e r  N 3 4",
    "o r d e r  n 9 4",
    "hi.\u200bhello.\u200bmy order",
]

TYPOS = [
    "wher is my oder",
    "i cant loggin to my acount",
    "pls cancle order n94 thx",
    "hw do i retrun an item",
    "my pakage is lost",
    "reciept for ordr N34 plz",
    "refnd not recieved yet",
    "cn u hlp me wth my bil",
    "wats ur phone nr",
    "wat r ur hours",
    "r u open 2day",
    "u guys open tmrw?",
    "ur website is down",
    "ur app wont let me pay",
    "your delivery guy was lovely btw",
    "u r the best, thanks",
    "you are amazing, thank you!",
    "You're a star, problem solved",
    "you guys rock",
    "thx u r very helpful",
    "ok ty",
    "kk thx",
    "lol ok",
    "nvm found it",
    "hmm ok",
    "?",
    "hello??",
    "hellooo anyone there",
    "yo",
    "sup, order N34",
]

# ---------------------------------------------------------------- benign, generated

ORDER_WORDS = ["order", "Order", "ORDER", "ticket", "Ticket", "case", "ref", "booking", "item", "parcel", "invoice", "claim", "return"]


def short_code():
    # Letter(s) + digits, the shape that confuses leetspeak folding: N34, n94, A7, x13
    style = rng.choice(["l2", "l2", "l3", "L2", "ll3", "l1", "mix"])
    l = rng.choice(LETTERS)
    if style == "l2":
        c = l + digits(2)
    elif style == "l3":
        c = l + digits(3)
    elif style == "L2":
        c = l.lower() + digits(2)
    elif style == "ll3":
        c = l + rng.choice(LETTERS) + digits(3)
    elif style == "l1":
        c = l + digits(1)
    else:
        c = alnum(rng.randint(4, 8))
    return c.lower() if rng.random() < 0.3 else c


def long_code():
    style = rng.choice(["ord", "hash", "sku", "ups", "rm", "lic", "plain", "ref"])
    if style == "ord":
        return rng.choice(["ORD", "ORDER", "SO", "PO", "INV", "TKT", "CS", "RMA"]) + "-" + digits(rng.randint(4, 6))
    if style == "hash":
        return "#" + rng.choice(LETTERS) + "-" + digits(5)
    if style == "sku":
        return "SKU-" + alnum(rng.randint(3, 6))
    if style == "ups":
        return "1Z" + alnum(6) + digits(10)
    if style == "rm":
        return "".join(rng.choice(LETTERS) for _ in range(2)) + digits(9) + "GB"
    if style == "lic":
        return "-".join(alnum(4) for _ in range(4))
    if style == "ref":
        return alnum(6)
    return digits(rng.randint(5, 9))


def postcode():
    style = rng.choice(["uk", "uk", "us", "ca", "de", "nl"])
    if style == "uk":
        out = rng.choice(["SW1A", "N4", "E14", "W1K", "M4", "LS6", "DN15", "S36", "EH1", "G12", "B60", "CM1", "BT1", "NW1", "SE1", "N1", "E1", "CF10", "PL4", "BS8"])
        return out + " " + str(rng.randint(0, 9)) + rng.choice(LETTERS) + rng.choice(LETTERS)
    if style == "us":
        return digits(5)
    if style == "ca":
        return rng.choice(LETTERS) + digits(1) + rng.choice(LETTERS) + " " + digits(1) + rng.choice(LETTERS) + digits(1)
    if style == "de":
        return digits(5)
    return digits(4) + " " + rng.choice(LETTERS) + rng.choice(LETTERS)


FIRST = ["Dick", "Richard", "Fanny", "Willy", "Titus", "Cassie", "Ashish", "Harshit", "Shital", "Phuc", "Dong", "Anna", "Tom", "Priya", "Chen", "Fatima", "Diego", "Yuki", "Omar", "Sofia", "Ben", "Olga", "Ahmed", "Maria", "Lucas", "Emma", "Noah", "Hoang", "Kuntal", "Nigel"]
LAST = ["Cockburn", "Hancock", "Butts", "Dickinson", "Hoare", "Glasscock", "Cox", "Kuntz", "Assman", "Weiner", "Sexton", "Schitt", "Titmuss", "Cumming", "Gaylord", "Wang", "Smith", "Garcia", "Patel", "Nguyen", "Okafor", "Muller", "Rossi", "Silva", "Khan", "Jones", "Babcock", "Woodcock", "Lipschitz", "Dikshit"]
STREETS = ["High Street", "Cockburn Street", "Butt Lane", "Dicks Lane", "Station Road", "Church Lane", "Hancock Avenue", "Scunthorpe Road", "Penistone Road", "Assisi Way", "Shitterton Lane", "Cumming Street", "Bell End Road", "Hoare Road", "Market Square", "Mill Lane", "Park Avenue", "Kings Road"]
TOWNS = ["Scunthorpe", "Penistone", "Clitheroe", "Cockermouth", "Middlesex", "Essex", "Sussex", "Dorking", "Lickey End", "Twatt", "Wetwang", "Muff", "London", "Leeds", "Manchester", "Bristol", "Glasgow", "Cardiff", "Shitterton", "Fugging", "Assisi", "Bastardo", "Condom", "Intercourse", "Middelfart"]
PRODUCTS = ["shiitake mushrooms", "cocktail glasses", "Moby Dick (paperback)", "spotted dick pudding", "Assassin's Creed", "Scunthorpe United scarf", "cockatiel cage", "Dickies jacket", "Hancock DVD", "bass guitar", "butt hinges", "cumin seeds", "wiener sausages", "Sex Pistols vinyl", "Kill Bill DVD", "titanium screws", "Cockspur rum", "Hornby train set", "ballcock valve", "Shih Tzu harness", "prickly pear jam", "AC adapter", "USB-C hub", "yoga mat", "coffee grinder", "phone case", "wireless earbuds", "air fryer", "duvet cover"]

GEN_TEMPLATES = [
    "{ow} {sc} please",
    "{ow} {sc}",
    "where is {ow} {sc}?",
    "Any update on {ow} {sc}?",
    "hi, {ow} {sc} hasn't arrived",
    "{ow} {lc} is late",
    "{ow} {lc}, can you check?",
    "my {ow} number is {sc}",
    "please cancel {ow} {sc}",
    "refund for {ow} {lc} please",
    "Tracking {lc} shows no movement",
    "The {prod} in {ow} {sc} arrived damaged",
    "Please send the {prod} to {num} {street}, {town} {pc}",
    "Deliver to {first} {last}, {num} {street}, {town}",
    "Hi, this is {first} {last}, about {ow} {sc}",
    "{first} {last} here, postcode {pc}, {ow} {lc}",
    "Can I change the address on {ow} {sc} to {pc}?",
    "This is ridiculous, third time I ask about {ow} {sc}",
    "I'm really not happy, {ow} {lc} is two weeks late",
    "Do you deliver to {town} {pc}?",
    "Is the {prod} back in stock? I'm in {town}",
    "I ordered the {prod} ({ow} {sc}) but got something else",
    "Code {sc} doesn't work",
    "{sc} {sc2} {sc3}",
    "items {sc}, {sc2} and {sc3} are missing from {ow} {lc}",
    "Account for {first} {last}: please update email",
    "Ask {first} {last} to call me back about {ow} {sc}",
    "what are your ho\u200burs in {town}?",
    "{ow}\u200b {sc} please",
    "{ow} {sc}\u200b thanks",
]


def generated_benign(n):
    out = []
    seen = set()
    while len(out) < n:
        t = rng.choice(GEN_TEMPLATES)
        text = t.format(
            ow=rng.choice(ORDER_WORDS),
            sc=short_code(),
            sc2=short_code(),
            sc3=short_code(),
            lc=long_code(),
            prod=rng.choice(PRODUCTS),
            num=rng.randint(1, 240),
            street=rng.choice(STREETS),
            town=rng.choice(TOWNS),
            pc=postcode(),
            first=rng.choice(FIRST),
            last=rng.choice(LAST),
        )
        if text in seen:
            continue
        seen.add(text)
        out.append(text)
    return out


# ---------------------------------------------------------------- abusive, handwritten

TARGETED = [
    "you are stupid",
    "you're useless",
    "You are a complete idiot",
    "ur so dumb",
    "screw you",
    "useless bot",
    "fuck you",
    "fuck you, you useless bot",
    "go fuck yourself",
    "you are a moron",
    "you're a pathetic excuse for a support agent",
    "you people are clowns",
    "you're all incompetent idiots",
    "shut up and give me my money",
    "you absolute cretin, read my message",
    "are you braindead? I said order N34",
    "you dumb bot",
    "stupid bot, answer the question",
    "you worthless piece of shit",
    "you are a bunch of thieves and scammers",
    "you lying bastards took my money",
    "you're a fucking joke",
    "you guys are fucking useless",
    "u r a waste of space",
    "you're such a loser",
    "you imbecile",
    "listen here you idiot",
    "what a moronic answer, are you thick?",
    "you are thick as a brick",
    "idiot bot",
    "dumbass bot",
    "your agents are idiots",
    "your staff are morons",
    "your support team is a bunch of clowns",
    "you suck",
    "you suck at this",
    "you really suck",
    "I hate you",
    "I hate you and your shitty company",
    "you dickhead",
    "you absolute dick",
    "you prick",
    "you jerk",
    "you ass",
    "you asshole",
    "you're an asshole",
    "bitch answer me",
    "you stupid bitch",
    "you twat",
    "you wanker",
    "you utter tosser",
    "piss off",
    "piss off you useless bot",
    "kys",
    "kill yourself",
    "go die",
    "drop dead",
    "go to hell",
    "go to hell you scammers",
    "eat shit",
    "eat shit and die",
    "suck my dick",
    "blow me",
    "f u",
    "f you",
    "fk u",
    "stfu",
    "stfu bot",
    "gtfo",
    "shut the fuck up",
    "stop being so fucking stupid",
    "are you retarded?",
    "you retard",
    "your mother is a whore",
    "son of a bitch",
    "you son of a bitch, refund me",
    "motherfucker",
    "you motherfucker",
    "fucking idiots",
    "bunch of fucking idiots",
    "clueless morons, all of you",
    "you're a disgrace",
    "you people are scum",
    "scumbags",
    "cunt",
    "you cunt",
    "you stupid cunt",
    "dumb fuck",
    "what the fuck is wrong with you",
    "fuck off",
    "fuck off bot",
    "fuck this company and fuck you",
    "useless fucking bot",
    "shitty useless bot",
    "you are garbage",
    "you're trash",
    "you're a clown",
    "you are a liar",
    "liar liar, you are all liars",
    "you're a parasite",
]

SLURS_AND_HATE = [
    "you faggot",
    "fag bot",
    "you're a retard",
    "stupid retard",
    "get me a white person not a paki",
    "I don't want to talk to a n1gger",
    "nigger",
    "you spic",
    "shut up you kike",
    "dirty chink",
    "stupid tranny",
    "go back to your country you wetback",
    "you're a dyke",
    "retarded bot",
    "you mong",
    "gook",
]

THREATS_AND_HARASSMENT = [
    "I will find you and kill you",
    "I'm going to kill you",
    "I know where your office is, watch your back",
    "I'll burn your shop down",
    "I will rape you",
    "send me nudes",
    "show me your tits",
    "suck my cock",
    "I want to fuck you",
    "are you horny",
    "nice tits",
    "sit on my dick",
]

DISGUISED = [
    "you are a m0r0n",
    "y o u  a r e  u s e l e s s",
    "f u c k  y o u",
    "f*ck you",
    "fu*k you",
    "f**k off",
    "go f*ck yourself",
    "you are an 1d10t",
    "you are st00pid",
    "u r a m0r0n",
    "sh1t bot",
    "you're a piece of sh1t",
    "fvck you",
    "phuck you",
    "a$$hole",
    "you @sshole",
    "you b1tch",
    "you're a c*nt",
    "ｆｕｃｋ ｙｏｕ",
    "fu\u200bck you",
    "you id\u200biot",
    "you st\u200bupid bot",
    "fuuuuck you",
    "fuckkkk offff",
    "stuuuupid bot",
    "f.u.c.k y.o.u",
    "f-u-c-k off",
    "you are a 💩",
    "you are d u m b",
    "sh!t service, you morons",
    "youre an idiot",
    "yall are idiots",
    "u stupid",
    "you're s t u p i d",
    "you are a r3tard",
    "d1ckhead",
    "wanker!!!",
    "c u n t",
    "b!tch",
    "kiII yourself",
]

MIXED_WITH_CODES = [
    "order N34 you idiots",
    "ticket n94 still open, you useless morons",
    "where is ORD-55812 you lying bastards",
    "SKU-9921 never came, fuck you",
    "my parcel 1Z999AA10123456784 is lost, you incompetent clowns",
    "I live in Scunthorpe and you are a moron",
    "Mr Cockburn here, you are all useless idiots",
    "refund order N34 now, you stupid bitch",
    "ticket T-4471 ignored again, screw you",
    "postcode SW1A 1AA, can you read, you cretins?",
    "what are your hours, you dumb bot",
    "ho\u200burs? answer me you idiot",
    "Order #A-10293. Third time. Are you retarded?",
    "INV-2024-00871 is wrong you thieving scumbags",
    "booking K7P9QX — you're a fucking joke",
    "I'm Dick Johnson and you are a dickhead",
    "case CS0041782: shut up and refund me",
    "n94!!! you worthless piece of shit",
    "order N34, fuck off with your templates",
    "the shiitake order was wrong, you morons",
]


# ---------------------------------------------------------------- held out

# Written after the scorer was tuned and never tuned on (category "blind"): how the
# figures above generalise. Same labelling rules.
BLIND_BENIGN = [
    "order Z83 was meant to come today",
    "hi, ticket b72 - still no reply from billing",
    "Return label for R2D2 figurine, order K44",
    "is there a store near NE1 4ST?",
    "my booking code is HX9 ZQ2",
    "coupon BOGO50 isn't applying",
    "device id A9F3-C2E1-7B44 won't pair",
    "Parcel for Mr. Shufflebottom, 12 Cockshutt Road",
    "Please call Ms Lipshitz on Monday",
    "I'm in Scunthorpe until Friday, deliver after that",
    "Flat 9, Wankie House, Bulawayo",
    "Is delivery free to Sandy Balls holiday park?",
    "The Cockfosters branch closed early",
    "my daughter Essex-Hancock is the account holder",
    "The Hoare & Co invoice was paid twice",
    "Dear Dr Nguyen Thi Phuc, your prescription is ready",
    "ask for Mr Dikshit at reception",
    "what ar​e your delivery ti​mes",
    "pl​ease re​send my in​voice",
    "order n 94 still missing",
    "the n95 masks arrived, thanks",
    "Nikon D750 body, order G12",
    "4K TV model 55X90L, dead pixels",
    "I ordered size 8 UK / 42 EU",
    "It's rubbish that I have to wait a week, honestly",
    "This is ridiculous, I've asked four times about order V61",
    "your hold music is driving me mad",
    "the app is useless since the update",
    "damn, forgot my password again",
    "what the hell happened to my discount?",
    "cancel my plan pls, moving to Hull HU1 2AA",
    "my username is hot_mess_88 lol",
    "ticket #T-88 re-opened",
    "Can I get the 3XL instead of the XL?",
    "Order L8R-2 says 'delivered' but it's not",
    "SO-4471-B, the sofa legs are missing",
    "is the Assam tea loose leaf?",
    "I need to reschedule the engineer for SE1 7PB",
    "Mr Bumgarner will pick it up",
    "Ordered pho for 2, got 1",
]

BLIND_ABUSIVE = [
    "you absolute muppet",
    "you thick idiot, read the ticket",
    "order Z83 you lying cheats",
    "answer me you useless piece of crap",
    "u r pathetic",
    "go f yourself",
    "f off",
    "fuk u",
    "you dumb b*tch",
    "shove your refund up your arse",
    "your agents are a bunch of monkeys",
    "I'll smash your face in",
    "stupid f*cking bot",
    "you're a c.u.n.t",
    "idi0t bot",
    "you retarded piece of shit",
    "sh*t for brains",
    "dickhead, answer the question",
    "you are all w4nk3rs",
    "kill yourself bot",
    "fucking morons, where is my parcel",
    "screw you and your ticket b72",
    "you scummy thieves",
    "get lost you loser",
    "you bloody idiot",
    "bite me",
    "hey slut",
    "you fat cow",
    "I hope you die",
    "ur a t w a t",
]


def main():
    benign_rows = []

    def add(texts, category, source="handwritten"):
        for t in texts:
            benign_rows.append({"text": t, "abusive": False, "category": category, "source": source})

    add(ISSUE, "issue_examples")
    add(ORDERS_AND_CODES, "order_codes")
    add(ADDRESSES_AND_POSTCODES, "addresses")
    add(NAMES, "names")
    add(PRODUCTS_AND_PLACES, "products_places")
    add(FRUSTRATED_POLITE, "frustrated")
    add(SALTY, "salty")
    add(TELECOM_BANKING_SAAS, "telecom_banking_saas")
    add(TRAVEL_FOOD, "travel_food")
    add(MULTILINGUAL, "multilingual")
    add(UNICODE_ODDITIES, "unicode")
    add(TYPOS, "typos")
    add(generated_benign(320), "generated_codes", "generated")
    add(BLIND_BENIGN, "blind", "handwritten_blind")

    abusive_rows = []

    def bad(texts, category):
        for t in texts:
            abusive_rows.append({"text": t, "abusive": True, "category": category, "source": "handwritten"})

    bad(TARGETED, "targeted")
    bad(SLURS_AND_HATE, "slurs")
    bad(THREATS_AND_HARASSMENT, "threats_harassment")
    bad(DISGUISED, "disguised")
    bad(MIXED_WITH_CODES, "with_codes")
    for t in BLIND_ABUSIVE:
        abusive_rows.append({"text": t, "abusive": True, "category": "blind", "source": "handwritten_blind"})

    texts = [r["text"] for r in benign_rows + abusive_rows]
    dupes = {t for t in texts if texts.count(t) > 1}
    assert not dupes, dupes
    with open(os.path.join(HERE, "abuse.jsonl"), "w", encoding="utf-8") as f:
        for r in benign_rows + abusive_rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print("abuse.jsonl: %d benign, %d abusive" % (len(benign_rows), len(abusive_rows)))


if __name__ == "__main__":
    main()

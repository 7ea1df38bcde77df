"""Word pools for the demo: names (with transliterations), companies, and open-text answers.

Arabic and Persian names carry three spellings: the CRM transliteration, a second
transliteration (helpdesk), and the native script (sometimes typed into surveys).
"""

from __future__ import annotations

EN_FIRST = (
    "Ana James Mary Robert Linda Michael Sarah David Emily Daniel Laura Kevin Olivia Brian "
    "Grace Thomas Chloe Ryan Hannah Jason Megan Eric Rachel Adam Julia Mark Lucy Paul Emma "
    "Peter Sophie Steven Anna Andrew Claire Simon Kate Lucas Nina Oscar Ruth Victor Helen "
    "Sean Alice Carlos Lena Diego Marta Jonas Ines Felix Clara Hugo Noor Priya Arjun Mei Wei"
).split()
EN_LAST = (
    "Lopez Smith Johnson Brown Garcia Miller Davis Wilson Taylor Anderson Thomas Moore Martin "
    "Jackson White Harris Clark Lewis Walker Hall Young King Wright Scott Green Baker Adams "
    "Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans Turner Parker Collins Edwards "
    "Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Reed Bailey Bell Kelly Howard "
    "Ward Cox Richardson Wood Watson Brooks Gray James Bennett Hughes Price Sanders Myers Long "
    "Ross Foster Schmidt Muller Weber Fischer Rossi Silva Santos Kumar Patel Chen Wang Tan Lim"
).split()

# (CRM transliteration, helpdesk transliteration, native script)
AR_FIRST = [
    ("Mohammed", "Muhammad", "محمد"),
    ("Ahmed", "Ahmad", "أحمد"),
    ("Ali", "Aly", "علي"),
    ("Omar", "Umar", "عمر"),
    ("Fatima", "Fatma", "فاطمة"),
    ("Aisha", "Aysha", "عائشة"),
    ("Khalid", "Khaled", "خالد"),
    ("Youssef", "Yusuf", "يوسف"),
    ("Layla", "Leila", "ليلى"),
    ("Mariam", "Maryam", "مريم"),
    ("Hassan", "Hasan", "حسن"),
    ("Nour", "Noor", "نور"),
    ("Ibrahim", "Ebrahim", "إبراهيم"),
    ("Huda", "Hoda", "هدى"),
    ("Tariq", "Tarek", "طارق"),
    ("Salma", "Selma", "سلمى"),
    ("Abdullah", "Abdallah", "عبدالله"),
    ("Rania", "Ranya", "رانيا"),
]
AR_LAST = [
    ("Al-Hassan", "Alhassan", "الحسن"),
    ("Al-Rashid", "Alrasheed", "الرشيد"),
    ("Haddad", "Hadad", "حداد"),
    ("Khoury", "Khouri", "خوري"),
    ("Al-Mansour", "Almansoor", "المنصور"),
    ("Nasser", "Nasir", "ناصر"),
    ("Saleh", "Salih", "صالح"),
    ("Al-Farsi", "Alfarsi", "الفارسي"),
    ("Abboud", "Aboud", "عبود"),
    ("Darwish", "Darwich", "درويش"),
    ("Al-Qasimi", "Alqasimi", "القاسمي"),
    ("Hamdan", "Hamdaan", "حمدان"),
    ("Al-Zahrani", "Alzahrani", "الزهراني"),
    ("Mahmoud", "Mahmud", "محمود"),
    ("Khalil", "Kalil", "خليل"),
]
FA_FIRST = [
    ("Mohammad", "Mohamad", "محمد"),
    ("Reza", "Rezaa", "رضا"),
    ("Ali", "Aly", "علی"),
    ("Maryam", "Mariam", "مریم"),
    ("Zahra", "Zahraa", "زهرا"),
    ("Fatemeh", "Fateme", "فاطمه"),
    ("Hossein", "Hosein", "حسین"),
    ("Amir", "Ameer", "امیر"),
    ("Sara", "Sarah", "سارا"),
    ("Neda", "Nedaa", "ندا"),
    ("Parisa", "Parissa", "پریسا"),
    ("Mehdi", "Mahdi", "مهدی"),
    ("Shirin", "Shireen", "شیرین"),
    ("Arash", "Aarash", "آرش"),
    ("Kian", "Kiyan", "کیان"),
    ("Niloofar", "Nilufar", "نیلوفر"),
    ("Babak", "Baabak", "بابک"),
    ("Golnaz", "Golnaaz", "گلناز"),
]
FA_LAST = [
    ("Hosseini", "Hoseini", "حسینی"),
    ("Ahmadi", "Ahmady", "احمدی"),
    ("Karimi", "Karimy", "کریمی"),
    ("Rezaei", "Rezaee", "رضایی"),
    ("Mohammadi", "Mohamadi", "محمدی"),
    ("Moradi", "Moradie", "مرادی"),
    ("Jafari", "Jafary", "جعفری"),
    ("Rahimi", "Rahimy", "رحیمی"),
    ("Tehrani", "Tehrany", "تهرانی"),
    ("Ghorbani", "Qorbani", "قربانی"),
    ("Sadeghi", "Sadeqi", "صادقی"),
    ("Kazemi", "Kazemy", "کاظمی"),
]

TITLES = (
    "CEO",
    "CTO",
    "COO",
    "VP Operations",
    "Head of Customer Support",
    "IT Manager",
    "Operations Manager",
    "Finance Manager",
    "Procurement Lead",
    "Product Manager",
    "Support Team Lead",
    "Office Manager",
    "Data Analyst",
    "Software Engineer",
    "HR Director",
)

COMPANY_FIRST = (
    "Acme Globex Initech Umbrella Stark Wayne Hooli Vandelay Soylent Cyberdyne Tyrell Wonka "
    "Gringotts Oscorp Massive Dynamic Nakatomi Blue Red Green Silver Golden Northern Southern "
    "Eastern Western Pacific Atlantic Summit Pinnacle Apex Vertex Horizon Meridian Harbor River "
    "Cedar Oak Maple Pine Falcon Eagle Phoenix Lion Tiger Orion Nova Stellar Lunar Solar Quantum "
    "Fusion Vector Matrix Nimbus Cirrus Coral Desert Oasis Falak Noor Sahara Zagros Alborz "
    "Andes Amazon Baltic Nordic Alpine Delta Sigma Omega Alpha Beta Gamma Kappa Zenith Crown"
).split()
COMPANY_SECOND = (
    "Logistics Systems Analytics Foods Health Labs Energy Capital Retail Media Robotics "
    "Software Networks Pharma Motors Textiles Telecom Consulting Foods Airlines Shipping "
    "Hospitality Learning Insurance Finance Construction Security Biotech Cloud Devices Data "
    "Farms Studios Travel Partners Holdings Industries Solutions Dynamics Works Group Trading "
    "Ventures Markets Design Payments Mobility Power Water Steel Paper Chemicals"
).split()
COMPANY_SUFFIX = ("Inc.", "LLC", "Ltd", "GmbH", "Co.", "Corp.", "FZ-LLC", "S.A.")

INDUSTRIES = (
    "Technology",
    "Retail",
    "Healthcare",
    "Finance",
    "Manufacturing",
    "Education",
    "Hospitality",
    "Transportation",
    "Telecommunications",
    "Media",
    "Consulting",
    "Energy",
    "Banking",
    "Insurance",
    "Food & Beverage",
    "Shipping",
    "Not For Profit",
    "Government",
)

# sentiment: 0 negative, 1 neutral, 2 positive
OPEN_TEXT: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        (
            "Support is far too slow, we waited days for a first answer.",
            "We were billed twice this month and nobody has fixed it yet.",
            "The same bug keeps coming back after every release.",
            "Your team closed my ticket without solving the problem.",
            "The invoice was wrong again, this is getting frustrating.",
            "Hard to reach anyone who understands our setup.",
            "Too many outages lately, our staff cannot rely on the tool.",
            "I had to explain the issue three times to different agents.",
        ),
        (
            "It does the job, but the reporting could be better.",
            "Support was fine, the answer took a bit long.",
            "Good product, pricing is on the high side.",
            "Some features are hard to find in the new interface.",
            "OK overall, onboarding documentation is a little thin.",
            "Works most of the time, exports are slow.",
        ),
        (
            "Great onboarding, the team was very helpful.",
            "Support answered within minutes and solved it right away.",
            "Easy to use and our team adopted it quickly.",
            "Our account manager is fantastic, always proactive.",
            "The new dashboards save us hours every week.",
            "Reliable product and a friendly support team.",
            "Billing is clear and the invoices are always correct.",
        ),
    ),
    "ar": (
        (
            "الدعم الفني بطيء جدا، انتظرنا أياما للحصول على أول رد.",
            "تم خصم المبلغ مرتين هذا الشهر ولم يصلح أحد المشكلة.",
            "نفس المشكلة تعود بعد كل تحديث.",
            "أغلقتم التذكرة دون حل المشكلة.",
            "الفاتورة خاطئة مرة أخرى، هذا أمر محبط.",
            "من الصعب الوصول إلى شخص يفهم إعداداتنا.",
        ),
        (
            "الخدمة جيدة لكن التقارير تحتاج إلى تحسين.",
            "الدعم كان مقبولا لكن الرد تأخر قليلا.",
            "منتج جيد لكن السعر مرتفع بعض الشيء.",
            "بعض الميزات صعبة الإيجاد في الواجهة الجديدة.",
        ),
        (
            "تجربة التأهيل كانت رائعة والفريق متعاون جدا.",
            "رد الدعم خلال دقائق وحل المشكلة فورا.",
            "سهل الاستخدام وتعلمه فريقنا بسرعة.",
            "مدير الحساب ممتاز ومبادر دائما.",
            "خدمة ممتازة وفريق دعم لطيف.",
        ),
    ),
    "fa": (
        (
            "پشتیبانی خیلی کند است، چند روز منتظر اولین پاسخ ماندیم.",
            "این ماه دو بار از ما پول کسر شد و هنوز کسی درستش نکرده.",
            "همان مشکل بعد از هر به‌روزرسانی دوباره برمی‌گردد.",
            "تیکت من بدون حل مشکل بسته شد.",
            "فاکتور دوباره اشتباه بود، واقعا ناامید کننده است.",
        ),
        (
            "محصول خوبی است اما گزارش‌ها باید بهتر شوند.",
            "پشتیبانی قابل قبول بود ولی پاسخ کمی طول کشید.",
            "محصول خوب است ولی قیمت کمی بالاست.",
            "پیدا کردن بعضی امکانات در نسخه جدید سخت است.",
        ),
        (
            "آموزش اولیه عالی بود و تیم خیلی کمک کرد.",
            "پشتیبانی در چند دقیقه جواب داد و مشکل را حل کرد.",
            "استفاده از آن ساده است و تیم ما سریع یاد گرفت.",
            "مدیر حساب ما فوق‌العاده است.",
            "محصول قابل اعتماد و تیم پشتیبانی مهربان.",
        ),
    ),
}

TICKET_TOPICS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "billing",
        "Invoice shows the wrong amount",
        (
            "Our latest invoice charges more seats than we have. Can you check?",
            "We were charged twice for the same month, please refund one payment.",
        ),
    ),
    (
        "login",
        "Cannot log in",
        (
            "Several users get an error when they try to log in since this morning.",
            "Password reset emails never arrive for our team.",
        ),
    ),
    (
        "bug",
        "Export fails with an error",
        (
            "The CSV export stops halfway with an error message.",
            "Reports page shows a blank screen after the last update.",
        ),
    ),
    (
        "how_to",
        "How do I add a new user?",
        (
            "How can I add new users and give them admin rights?",
            "Where do I change the notification settings for my team?",
        ),
    ),
    (
        "integration",
        "Integration stopped syncing",
        (
            "Our CRM integration has not synced any records since yesterday.",
            "The webhook to our system returns errors since the last change.",
        ),
    ),
    (
        "feature_request",
        "Feature request: scheduled reports",
        (
            "Could you add scheduled email reports? We would use them every week.",
            "We would like to filter dashboards by region.",
        ),
    ),
)
TICKET_DESCRIPTION_NATIVE = {
    "ar": (
        "لدينا مشكلة في الحساب، نرجو المساعدة في أقرب وقت.",
        "الفاتورة غير صحيحة، يرجى المراجعة.",
    ),
    "fa": ("در حساب ما مشکلی پیش آمده، لطفا کمک کنید.", "فاکتور اشتباه است، لطفا بررسی کنید."),
}
AGENT_REPLIES = (
    "Thanks for reaching out. I am looking into this now and will update you shortly.",
    "Thank you for the details. Could you send a screenshot of the error?",
    "I have escalated this to our engineering team and will keep you posted.",
    "We found the cause and applied a fix. Could you check on your side?",
)
REQUESTER_FOLLOWUPS = (
    "Thanks, here is the screenshot you asked for.",
    "It is still not working on our side, can you check again?",
    "Any update on this? It is blocking our team.",
)
SOLVE_REPLIES = (
    "This is now fixed. I am marking the ticket as solved; reply if anything comes up.",
    "Glad we could help. I am closing this ticket now.",
)
REOPEN_TEXTS = (
    "The problem is back again, please reopen.",
    "Sorry, it happened again this morning.",
)
RATING_COMMENTS = {
    "good": ("Quick and helpful, thank you!", "Great support.", "Solved fast."),
    "bad": ("Took far too long.", "Problem is not really solved.", "Had to repeat myself."),
}
BAD_REASONS = (
    ("The issue took too long to resolve", 5),
    ("The issue was not resolved", 6),
    ("The agent's knowledge is unsatisfactory", 7),
    ("The agent's attitude is unsatisfactory", 8),
    ("Some other reason", 100),
)

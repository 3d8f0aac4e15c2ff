// docker-style generated names ("adjective_surname"), from a subset of moby's namesgenerator lists.
const LEFT = [
  "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful", "blissful", "bold",
  "boring", "brave", "busy", "charming", "clever", "compassionate", "competent", "condescending", "confident", "cool",
  "cranky", "crazy", "dazzling", "determined", "distracted", "dreamy", "eager", "ecstatic", "elastic", "elated",
  "elegant", "eloquent", "epic", "exciting", "fervent", "festive", "flamboyant", "focused", "friendly", "frosty",
  "funny", "gallant", "gifted", "goofy", "gracious", "great", "happy", "hardcore", "heuristic", "hopeful",
  "hungry", "infallible", "inspiring", "intelligent", "interesting", "jolly", "jovial", "keen", "kind", "laughing",
  "loving", "lucid", "magical", "modest", "musing", "mystifying", "naughty", "nervous", "nice", "nifty",
  "nostalgic", "objective", "optimistic", "peaceful", "pedantic", "pensive", "practical", "priceless", "quirky", "quizzical",
  "recursing", "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic",
  "strange", "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled", "upbeat", "vibrant",
  "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen",
];
const RIGHT = [
  "agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata", "austin", "babbage", "banach",
  "bardeen", "bartik", "bassi", "bell", "benz", "bhabha", "bhaskara", "blackwell", "bohr", "booth",
  "borg", "bose", "boyd", "brahmagupta", "brattain", "brown", "carson", "chandrasekhar", "chatelet", "clarke",
  "colden", "cori", "cray", "curie", "darwin", "davinci", "dijkstra", "dubinsky", "easley", "edison",
  "einstein", "elion", "engelbart", "euclid", "euler", "fermat", "fermi", "feynman", "franklin", "galileo",
  "gates", "goldberg", "goldstine", "goldwasser", "golick", "goodall", "hamilton", "hawking", "heisenberg", "hermann",
  "hodgkin", "hoover", "hopper", "hugle", "hypatia", "jackson", "jang", "jennings", "jepsen", "johnson",
  "joliot", "jones", "kalam", "keldysh", "kepler", "khorana", "kilby", "knuth", "kowalevski", "lalande",
  "lamarr", "lamport", "leakey", "leavitt", "lovelace", "lumiere", "mahavira", "mayer", "mccarthy", "mcclintock",
  "meitner", "mendel", "merkle", "mirzakhani", "montalcini", "moore", "morse", "newton", "nobel", "noether",
  "northcutt", "noyce", "panini", "pare", "pasteur", "payne", "perlman", "pike", "poincare", "ptolemy",
  "raman", "ramanujan", "ride", "ritchie", "rosalind", "sammet", "shannon", "shaw", "shockley", "sinoussi",
  "snyder", "spence", "stonebraker", "swanson", "swartz", "tesla", "thompson", "torvalds", "turing", "varahamihira",
  "visvesvaraya", "volhard", "wescoff", "wiles", "williams", "wilson", "wing", "wozniak", "wright", "yalow", "yonath",
];

function pick<T>(list: T[]): T {
  return list[Math.floor(Math.random() * list.length)];
}

/** A random docker-style name; the caller checks uniqueness and asks again on a clash. */
export function randomName(retry: number): string {
  const base = `${pick(LEFT)}_${pick(RIGHT)}`;
  // moby's rule: "boring_wozniak" is not allowed. After clashes, a digit widens the space.
  if (base === "boring_wozniak") return randomName(retry);
  return retry > 3 ? `${base}${Math.floor(Math.random() * 10)}` : base;
}

/** docker's rule for --name: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
export const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

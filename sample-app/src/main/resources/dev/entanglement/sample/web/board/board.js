// The live task board: one user's view of the cards the node's policies share with them. Cards
// move by dragging (a transition: others see the card moving, then the owner's commit); a change
// the owner refuses comes back with its reason; the presence list shows who of the user's own
// team (and staff) is online. Everything comes from the JavaScript client's stores.
import { connect, EntanglementError } from '/client/entanglement.js';

const LANES = ['todo', 'doing', 'done'];
const params = new URLSearchParams(location.search);
const token = params.get('token') || undefined; // none: the node answers 401 with its reason
// a tab keeps its name across reloads (sessionStorage), so a reload catches up from its positions
const tab = params.get('tab') ?? sessionStorage.getItem('tab') ?? Math.random().toString(36).slice(2, 10);
sessionStorage.setItem('tab', tab);
const config = await (await fetch('/config.json')).json();

const client = connect(config.ws, {
  token,
  tab,
  persist: params.get('persist') === 'off' ? undefined : `board:${token}:${tab}`,
});
const cards = client.objects('Card');
const presence = client.ephemeral('presence', { ttlMs: 15_000 });
const pending = new Map(); // card id -> lane asked for, until the owner answers
let drag; // the card being dragged here: { id, from, lane, transition }

/** Shows a line in the messages list (newest first, at most 20). */
function say(text, error = false) {
  const list = document.getElementById('messages');
  const line = document.createElement('li');
  line.textContent = text;
  line.className = error ? 'error' : '';
  list.prepend(line);
  while (list.children.length > 20) {
    list.lastChild.remove();
  }
}

function reason(error) {
  if (error instanceof EntanglementError) {
    return `${error.code}: ${error.message}`;
  }
  return String(error);
}

function laneOf(item) {
  if (drag?.id === String(item.id)) {
    return drag.lane;
  }
  if (pending.has(String(item.id))) {
    return pending.get(String(item.id));
  }
  return item.provisional?.attributes.lane ?? item.data.lane;
}

function render() {
  for (const lane of LANES) {
    document.querySelector(`[data-testid="lane-${lane}"]`).replaceChildren();
  }
  const items = cards.all().sort((a, b) => String(a.data.title).localeCompare(String(b.data.title)));
  for (const item of items) {
    const lane = LANES.includes(laneOf(item)) ? laneOf(item) : 'todo';
    const card = document.createElement('li');
    const id = String(item.id);
    card.className = 'card';
    card.dataset.id = id;
    card.dataset.testid = 'card';
    card.dataset.title = item.data.title;
    if (drag?.id === id) {
      card.classList.add('dragging');
    } else if (pending.has(id)) {
      card.classList.add('pending');
    } else if (item.provisional) {
      card.classList.add('provisional');
      card.dataset.movedBy = item.provisional.origin;
    }
    const title = document.createElement('div');
    title.className = 'title';
    title.textContent = item.data.title;
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.textContent = `${item.owner} · ${item.data.points} pts · v${item.data.version}`
      + (item.provisional && drag?.id !== id ? ` · moving (${item.provisional.origin})` : '')
      + (pending.has(id) ? ' · waiting for the owner' : '');
    const plus = document.createElement('button');
    plus.textContent = '+1';
    plus.className = 'plus';
    plus.title = 'one more point';
    plus.addEventListener('pointerdown', (event) => event.stopPropagation());
    plus.addEventListener('click', () => {
      client.update('Card', item.id, { points: Number(item.data.points) + 1 })
        .catch((error) => say(`"${item.data.title}" +1: ${reason(error)}`, true));
    });
    card.append(title, meta, plus);
    card.addEventListener('pointerdown', (event) => startDrag(event, item));
    document.querySelector(`[data-testid="lane-${lane}"]`).append(card);
  }
  const online = [...presence.all().values()].map((p) => p.user).filter(Boolean);
  document.getElementById('presence').replaceChildren(...[...new Set(online)].sort().map((user) => {
    const li = document.createElement('li');
    li.textContent = user;
    return li;
  }));
}

function laneAt(x, y) {
  const lane = document.elementsFromPoint(x, y).find((element) => element.classList?.contains('lane'));
  return lane?.dataset.lane;
}

function startDrag(event, item) {
  if (event.button !== 0 || drag) {
    return;
  }
  event.preventDefault();
  const from = laneOf(item);
  drag = { id: String(item.id), from, lane: from, transition: client.transition('Card', item.id) };
  const move = (e) => {
    const lane = laneAt(e.clientX, e.clientY);
    if (lane && lane !== drag.lane) {
      drag.lane = lane;
      drag.transition.update({ lane }); // false while offline: provisional state is not queued
      render();
    }
  };
  const end = (e) => {
    window.removeEventListener('pointermove', move);
    window.removeEventListener('pointerup', end);
    window.removeEventListener('pointercancel', end);
    const done = drag;
    drag = undefined;
    if (e.type === 'pointerup' && done.lane !== done.from) {
      pending.set(done.id, done.lane);
      render();
      done.transition.commit({ lane: done.lane })
        .then(() => say(`"${item.data.title}" moved to ${done.lane}`))
        .catch((error) => say(`"${item.data.title}" not moved: ${reason(error)}`, true))
        .finally(() => {
          pending.delete(done.id);
          render();
        });
    } else {
      done.transition.abort();
      render();
    }
  };
  window.addEventListener('pointermove', move);
  window.addEventListener('pointerup', end);
  window.addEventListener('pointercancel', end);
  render();
}

document.getElementById('new-card').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = document.getElementById('title');
  const title = input.value.trim();
  input.value = '';
  const owner = team(client.peerName) === 'red' || team(client.peerName) === 'blue' ? team(client.peerName) : 'hq';
  client.create('Card', { title, lane: 'todo', points: 0 }, { owner })
    .then(() => say(`"${title}" created`))
    .catch((error) => say(`"${title}" not created: ${reason(error)}`, true));
});

function team(name) {
  return name ? name.split('.')[0] : undefined;
}

let heartbeat;
client.on('state', (state, detail) => {
  const element = document.getElementById('state');
  element.textContent = state + (detail.reason ? `: ${detail.reason}` : '');
  element.className = `state ${state}`;
  if (state === 'connected') {
    document.getElementById('who').textContent = client.peerName ?? '';
    const user = client.peerName?.split('.').slice(0, 2).join('.');
    const announce = () => presence.put(client.peerName, { user }).catch(() => undefined);
    announce();
    clearInterval(heartbeat);
    heartbeat = setInterval(announce, 5_000); // the entry lives 15 s: gone soon after the tab is
  } else {
    clearInterval(heartbeat);
  }
  if (state === 'refused') {
    say(`refused: ${detail.reason ?? 'no reason given'}`, true);
  }
});
for (const event of ['added', 'updated', 'removed', 'withdrawn', 'provisional']) {
  cards.on(event, render);
}
for (const event of ['added', 'updated', 'removed']) {
  presence.on(event, render);
}
render();
// for the tests and the curious: the page's client and stores
window.board = { client, cards, presence };
